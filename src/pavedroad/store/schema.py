"""Table definitions. Migrations in `migrations/versions` create exactly these."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_prefix", sa.String(16), nullable=False),
    sa.Column("models", sa.JSON, nullable=True),  # null: every model
    sa.Column("app_id", sa.String(40), nullable=False, index=True),
    sa.Column("limits", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    # caller | tenant_admin (reads its app's tenant through the admin API; docs/adr/0012)
    sa.Column("role", sa.String(20), nullable=False, server_default="caller"),
)

kill_switches = sa.Table(
    "kill_switches",
    metadata,
    sa.Column("scope", sa.String(20), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("limits", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("limits", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    sa.UniqueConstraint("tenant_id", "name", name="uq_teams_tenant_name"),
)

apps = sa.Table(
    "apps",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), sa.ForeignKey("teams.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("limits", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("fail_mode", sa.String(10), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("risk_class", sa.String(40), nullable=False, server_default="minimal"),
    sa.Column("data_classification", sa.String(40), nullable=False,
              server_default="internal"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    sa.UniqueConstraint("team_id", "name", name="uq_apps_team_name"),
)

# --- spend ledger (metering) ---------------------------------------------------------

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("day", sa.String(10), nullable=False, index=True),  # UTC date of started_at
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("tenant_id", sa.String(40), nullable=True),
    sa.Column("team_id", sa.String(40), nullable=True),
    sa.Column("app_id", sa.String(40), nullable=True),
    sa.Column("key_id", sa.String(40), nullable=True),
    sa.Column("end_user", sa.String(256), nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("deployment", sa.String(200), nullable=True),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("endpoint", sa.String(40), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("cached_tokens", sa.Integer, nullable=False),
    sa.Column("cache_write_tokens", sa.Integer, nullable=False),
    sa.Column("cost_nanousd", sa.BigInteger, nullable=True),  # null: unpriced
    sa.Column("usage_source", sa.String(12), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("ttft_ms", sa.Float, nullable=True),
    sa.Column("outcome", sa.String(60), nullable=False),
    sa.Column("cache_hit", sa.Boolean, nullable=False),
    sa.Column("stream", sa.Boolean, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("writer", sa.String(40), nullable=False),  # the journal writer it came from
    sa.Index("ix_ledger_writer_outcome", "writer", "outcome"),
)

SPEND_COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens",
                  "cache_write_tokens", "cost_nanousd", "unpriced_requests")


def _spend_columns() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False) for name in SPEND_COUNTERS]


spend_daily = sa.Table(
    "spend_daily",
    metadata,
    # "" where a request has no such owner (the master key has no app, team or tenant).
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("tenant_id", sa.String(40), primary_key=True),
    sa.Column("team_id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("deployment", sa.String(200), primary_key=True),
    *_spend_columns(),
)

spend_daily_tags = sa.Table(
    "spend_daily_tags",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("tag_key", sa.String(64), primary_key=True),
    sa.Column("tag_value", sa.String(128), primary_key=True),
    *_spend_columns(),
)

ledger_offsets = sa.Table(
    "ledger_offsets",
    metadata,
    sa.Column("writer", sa.String(40), primary_key=True),
    sa.Column("file", sa.String(200), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# --- budgets (limits and budgets) ----------------------------------------------------

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("scope", sa.String(10), nullable=False),  # key | app | team | tenant | user
    sa.Column("subject_id", sa.String(300), nullable=False),  # users: `<tenant id>/<user>`
    sa.Column("subject", sa.String(500), nullable=False),  # the name people use
    sa.Column("period", sa.String(10), nullable=False),  # day | week | month | total
    sa.Column("amount", sa.Float, nullable=False),  # USD
    sa.Column("soft", sa.Float, nullable=True),  # share of amount that alerts; null: none
    sa.Column("hard", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    sa.Column("deleted_at", sa.Float, nullable=True),  # kept, so refreshes see deletions
    # One live budget per subject and period.
    sa.Index("uq_budgets_live", "scope", "subject_id", "period", unique=True,
             sqlite_where=sa.text("deleted_at IS NULL"),
             postgresql_where=sa.text("deleted_at IS NULL")),
)

# --- audit trail (docs/adr/0012) -------------------------------------------------------

audit_records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),  # chain position
    sa.Column("id", sa.String(40), nullable=False, unique=True),  # aud_… (or the request id)
    sa.Column("kind", sa.String(10), nullable=False),  # request | admin | prune
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("tenant_id", sa.String(40), nullable=True, index=True),
    sa.Column("app_id", sa.String(40), nullable=True),
    sa.Column("retain_until", sa.Float, nullable=True),  # null: kept for ever
    sa.Column("content", sa.Text, nullable=True),  # canonical JSON; null once pruned
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row (id 1): where the chain ends, and where it starts after pruning.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),  # the last record's seq (0: none yet)
    sa.Column("hash", sa.String(64), nullable=False),  # the last record's hash
    sa.Column("base_seq", sa.BigInteger, nullable=False),  # last seq deleted by pruning
    sa.Column("base_hash", sa.String(64), nullable=False),  # its hash: the checkpoint
    sa.Column("checkpoint_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

audit_offsets = sa.Table(
    "audit_offsets",
    metadata,
    sa.Column("writer", sa.String(40), primary_key=True),
    sa.Column("file", sa.String(200), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Streams that started answering but whose final record is not in yet (see 0012).
audit_pending = sa.Table(
    "audit_pending",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("writer", sa.String(40), nullable=False, index=True),
    sa.Column("record", sa.JSON, nullable=False),
)
