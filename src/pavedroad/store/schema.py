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
    # The registry prompt the request was rendered from (migration 0008); null: none.
    sa.Column("prompt_id", sa.String(100), nullable=True),
    sa.Column("prompt_version", sa.Integer, nullable=True),
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

# --- retrieval (docs/adr/0014) -------------------------------------------------------

rag_collections = sa.Table(
    "rag_collections",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # col_…
    sa.Column("tenant_id", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("embedder", sa.String(200), nullable=False),  # every chunk's vectors come from it
    sa.Column("dimensions", sa.Integer, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),  # chunk_tokens, chunk_overlap
    sa.Column("version", sa.BigInteger, nullable=False),  # bumps on every change: indexes reload
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_rag_collections_tenant_name"),
)

rag_collection_apps = sa.Table(
    "rag_collection_apps",
    metadata,
    sa.Column("collection_id", sa.String(40), sa.ForeignKey("rag_collections.id"),
              primary_key=True),
    sa.Column("app_id", sa.String(40), primary_key=True, index=True),
)

rag_documents = sa.Table(
    "rag_documents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # doc_…
    sa.Column("collection_id", sa.String(40), sa.ForeignKey("rag_collections.id"),
              nullable=False),
    sa.Column("source", sa.String(1000), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),  # sha256 of the raw bytes
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("media_type", sa.String(100), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),  # custom fields, filterable
    sa.Column("chunks", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("collection_id", "source", name="uq_rag_documents_source"),
)

rag_chunks = sa.Table(
    "rag_chunks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # chk_…
    sa.Column("collection_id", sa.String(40), nullable=False, index=True),
    sa.Column("document_id", sa.String(40), sa.ForeignKey("rag_documents.id"), nullable=False,
              index=True),
    sa.Column("seq", sa.Integer, nullable=False),  # position in its document
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False),  # of what was embedded: the cache key
    sa.Column("start_offset", sa.Integer, nullable=False),
    sa.Column("end_offset", sa.Integer, nullable=False),
    sa.Column("section", sa.Text, nullable=False),  # "Install > From source"
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("embedder", sa.String(200), nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=False),  # float32, little-endian
    sa.Index("ix_rag_chunks_embedding_cache", "embedder", "text_hash"),
)

# Alerts the gateway raised (SLO burn rates, cost anomalies); see docs/telemetry.md.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("tenant_id", sa.String(40), nullable=True, index=True),
    sa.Column("app_id", sa.String(40), nullable=True),
    sa.Column("app", sa.String(200), nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False, index=True),
    sa.Column("resolved_at", sa.Float, nullable=True),
)

# --- dashboard (docs/adr/0019) ----------------------------------------------------------

# Server-side UI sessions: the cookie holds a random token, the table only its SHA-256.
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

# Time-range reads of the ledger for the dashboard (migration 0012).
sa.Index("ix_ledger_started_cover", ledger.c.started_at, ledger.c.tenant_id, ledger.c.app_id,
         ledger.c.model, ledger.c.deployment, ledger.c.outcome, ledger.c.cache_hit,
         ledger.c.latency_ms, ledger.c.ttft_ms, ledger.c.cost_nanousd)
sa.Index("ix_ledger_app_started", ledger.c.app_id, ledger.c.started_at)
sa.Index("ix_ledger_key_started", ledger.c.key_id, ledger.c.started_at)

# Hourly and daily rollups of the ledger for the dashboard, moved by the ledger's one write
# path in the same transaction as the rows (store/ledger.py): requests, errors, cache hits,
# cost and latency/TTFT histograms over STATS_BOUNDS. "" where a request has no such owner.
STATS_KEYS = ("tenant_id", "team_id", "app_id", "key_id", "model", "deployment")
# Upper bounds (ms) of the histogram buckets; the last bucket is open-ended.
STATS_BOUNDS: tuple[float, ...] = (5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000,
                                   1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000,
                                   120000)
STATS_BINS = len(STATS_BOUNDS) + 1
STATS_COUNTERS = ("requests", "errors", "cache_hits", "cost_nanousd",
                  *(f"lat_{i}" for i in range(STATS_BINS)),
                  *(f"ttft_{i}" for i in range(STATS_BINS)))


def _stats_table(name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("bucket", sa.BigInteger, primary_key=True),  # Unix seconds it starts at
        *(sa.Column(k, sa.String(200), primary_key=True) for k in STATS_KEYS),
        *(sa.Column(c, sa.BigInteger, nullable=False, server_default="0")
          for c in STATS_COUNTERS))


stats_hourly = _stats_table("stats_hourly")
stats_daily = _stats_table("stats_daily")

# --- online evaluation (docs/adr/0018) --------------------------------------------------

# One row per score a cheap scorer gave a sampled live answer (migration 0010).
online_eval_scores = sa.Table(
    "online_eval_scores",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("scorer", sa.String(100), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=True),
    sa.Column("app_id", sa.String(40), nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_online_eval_scores_app_created", "app_id", "created_at"),
    sa.Index("ix_online_eval_scores_tenant_created", "tenant_id", "created_at"),
)

# --- prompt registry (docs/adr/0016) ----------------------------------------------------

prompts = sa.Table(
    "prompts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # prm_…
    sa.Column("app_id", sa.String(40), nullable=False),  # the owner: its tenant reads it
    sa.Column("tenant_id", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),  # what requests call it (`prompt.id`)
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # Bumped by every new version and label move: gateways refresh from it.
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    sa.UniqueConstraint("app_id", "name", name="uq_prompts_app_name"),
)

prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, …
    sa.Column("content", sa.JSON, nullable=False),  # immutable once written
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("prompt_id", "content_hash", name="uq_prompt_versions_hash"),
)

prompt_labels = sa.Table(
    "prompt_labels",
    metadata,
    sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), primary_key=True),
    sa.Column("label", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Every label move, in order: rollback walks it back.
prompt_label_history = sa.Table(
    "prompt_label_history",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the order of moves
    sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), nullable=False,
              index=True),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # move | rollback
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

prompt_gate_results = sa.Table(
    "prompt_gate_results",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the last one wins
    sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("gate", sa.String(200), nullable=False),
    sa.Column("run_id", sa.String(200), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Index("ix_prompt_gate_results_version", "prompt_id", "version"),
)

# --- evaluation harness (docs/adr/0017) -------------------------------------------------

# A dataset version is the hash of its cases: pushing the same cases again is a no-op.
eval_datasets = sa.Table(
    "eval_datasets",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=True),  # null: pushed with the master key
    sa.Column("case_count", sa.Integer, nullable=False),
    sa.Column("cases", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

eval_runs = sa.Table(
    "eval_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # run_…
    sa.Column("suite", sa.String(200), nullable=False),
    sa.Column("dataset", sa.String(200), nullable=False),
    sa.Column("dataset_version", sa.String(64), nullable=False),
    sa.Column("target", sa.JSON, nullable=False),  # {model} or {prompt: {id, version}}
    sa.Column("spec", sa.JSON, nullable=False),  # the suite as run: resume re-reads it
    sa.Column("tenant_id", sa.String(40), nullable=True, index=True),
    sa.Column("app_id", sa.String(40), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),  # running | finished
    sa.Column("case_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("finished_at", sa.Float, nullable=True),
)

# One row per finished case, written as the case finishes (resume skips these).
eval_results = sa.Table(
    "eval_results",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("eval_runs.id"), primary_key=True),
    sa.Column("case_id", sa.String(200), primary_key=True),
    sa.Column("output", sa.JSON, nullable=False),  # text, status, error_code, latency, cost
    sa.Column("scores", sa.JSON, nullable=False),  # [{name, value, passed, reason, details}]
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("category", sa.String(100), nullable=True),  # red-team category, if any
    sa.Column("finished_at", sa.Float, nullable=False),
)
