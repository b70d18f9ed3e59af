"""Dashboard: server-side UI sessions, ledger indexes, and hourly/daily statistics rollups.

`stats_hourly` and `stats_daily` hold, per time bucket and (tenant, team, app, key, model,
deployment): requests, errors, cache hits, cost, and latency and time-to-first-token
histograms. The ledger's one write path (store/ledger.py `apply`, `close_writer`) moves them
in the same transaction as the rows it writes, by the difference each row makes (a row
changed from in-progress to final moves them by the difference). Existing rows are rolled
up here once. See ADR 0019.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Must match pavedroad.store.ledger_stats.BOUNDS (histogram bucket upper bounds, ms).
BOUNDS = (5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000,
          7500, 10000, 20000, 30000, 60000, 120000)
BINS = len(BOUNDS) + 1
KEYS = ("tenant_id", "team_id", "app_id", "key_id", "model", "deployment")
COUNTERS = ("requests", "errors", "cache_hits", "cost_nanousd",
            *(f"lat_{i}" for i in range(BINS)), *(f"ttft_{i}" for i in range(BINS)))
GRAINS = {"stats_hourly": 3600, "stats_daily": 86400}
COVER = ("started_at", "tenant_id", "app_id", "model", "deployment", "outcome", "cache_hit",
         "latency_ms", "ttft_ms", "cost_nanousd")


def _bin(column: str) -> str:
    whens = " ".join(f"WHEN {column} < {bound} THEN {i}" for i, bound in enumerate(BOUNDS))
    return f"CASE WHEN {column} IS NULL THEN -1 {whens} ELSE {len(BOUNDS)} END"


def _floor(expr: str, dialect: str) -> str:
    return f"floor({expr})" if dialect == "postgresql" else f"CAST({expr} AS INTEGER)"


def backfill(table: str, dialect: str) -> str:
    """Roll up every finished ledger row already stored (one INSERT … SELECT)."""
    grain = GRAINS[table]
    lb, tb = _bin("latency_ms"), _bin("ttft_ms")
    sums = [
        "COUNT(*)", "SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END)",
        "SUM(CASE WHEN cache_hit THEN 1 ELSE 0 END)", "COALESCE(SUM(cost_nanousd), 0)",
        *(f"SUM(CASE WHEN {lb} = {i} THEN 1 ELSE 0 END)" for i in range(BINS)),
        *(f"SUM(CASE WHEN {tb} = {i} THEN 1 ELSE 0 END)" for i in range(BINS)),
    ]
    keys = [f"{_floor(f'started_at / {grain}', dialect)} * {grain}",
            *(f"COALESCE({k}, '')" for k in KEYS)]
    return (f"INSERT INTO {table} (bucket, {', '.join(KEYS)}, {', '.join(COUNTERS)}) "
            f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM ledger "
            f"WHERE outcome <> 'in_progress' GROUP BY {', '.join(keys)}")


def _stats_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        *(sa.Column(k, sa.String(200), primary_key=True) for k in KEYS),
        *(sa.Column(c, sa.BigInteger, nullable=False, server_default="0") for c in COUNTERS),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
    )
    op.create_index("ix_ledger_started_cover", "ledger", list(COVER))
    op.create_index("ix_ledger_app_started", "ledger", ["app_id", "started_at"])
    op.create_index("ix_ledger_key_started", "ledger", ["key_id", "started_at"])
    for table in GRAINS:
        _stats_table(table)
        op.execute(backfill(table, dialect))


def downgrade() -> None:
    for table in GRAINS:
        op.drop_table(table)
    op.drop_index("ix_ledger_key_started", table_name="ledger")
    op.drop_index("ix_ledger_app_started", table_name="ledger")
    op.drop_index("ix_ledger_started_cover", table_name="ledger")
    op.drop_table("ui_sessions")
