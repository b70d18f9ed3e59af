"""The spend ledger: one row per request, daily rollups, and journal offsets.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "cached_tokens",
            "cache_write_tokens", "cost_nanousd", "unpriced_requests")


def _counters() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False) for name in COUNTERS]


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
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
        sa.Column("cost_nanousd", sa.BigInteger, nullable=True),
        sa.Column("usage_source", sa.String(12), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(60), nullable=False),
        sa.Column("cache_hit", sa.Boolean, nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("writer", sa.String(40), nullable=False),
    )
    op.create_index("ix_ledger_day", "ledger", ["day"])
    op.create_index("ix_ledger_writer_outcome", "ledger", ["writer", "outcome"])
    op.create_table(
        "spend_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("tenant_id", sa.String(40), primary_key=True),
        sa.Column("team_id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), primary_key=True),
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("deployment", sa.String(200), primary_key=True),
        *_counters(),
    )
    op.create_table(
        "spend_daily_tags",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("tag_key", sa.String(64), primary_key=True),
        sa.Column("tag_value", sa.String(128), primary_key=True),
        *_counters(),
    )
    op.create_table(
        "ledger_offsets",
        sa.Column("writer", sa.String(40), primary_key=True),
        sa.Column("file", sa.String(200), primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_offsets")
    op.drop_table("spend_daily_tags")
    op.drop_table("spend_daily")
    op.drop_index("ix_ledger_writer_outcome", "ledger")
    op.drop_index("ix_ledger_day", "ledger")
    op.drop_table("ledger")
