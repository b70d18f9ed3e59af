"""Dashboard: server-side UI sessions, ledger indexes, and hourly/daily statistics rollups.

`stats_hourly` and `stats_daily` hold, per time bucket and (tenant, team, app, key, model,
deployment): requests, errors, cache hits, cost, and latency and time-to-first-token
histograms. Database triggers on `ledger` keep them exact whoever writes the ledger
(gateway flushers, replicas, the CLI), and a row changed from in-progress to final moves
them by the difference. Existing rows are rolled up here once. See ADR 0019.

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


def _flag(condition: str, sign: int, dialect: str) -> str:
    """`sign` when the condition holds, else 0: SQLite's comparisons already are 0 or 1."""
    if dialect == "postgresql":
        return f"CASE WHEN {condition} THEN {sign} ELSE 0 END"
    return f"({condition})" if sign == 1 else f"-({condition})"


def upsert(table: str, row: str, sign: int, dialect: str) -> str:
    """One ledger row (`NEW` or `OLD`) added to (sign 1) or taken from (-1) a rollup."""
    grain = GRAINS[table]
    values = [
        f"{_floor(f'{row}.started_at / {grain}', dialect)} * {grain}",
        *(f"COALESCE({row}.{k}, '')" for k in KEYS),
        f"{sign}", f"CASE WHEN {row}.outcome <> 'ok' THEN {sign} ELSE 0 END",
        f"CASE WHEN {row}.cache_hit THEN {sign} ELSE 0 END",
        f"{sign} * COALESCE({row}.cost_nanousd, 0)",
        *(_flag(f"v.lb = {i}", sign, dialect) for i in range(BINS)),
        *(_flag(f"v.tb = {i}", sign, dialect) for i in range(BINS)),
    ]
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
    return (f"INSERT INTO {table} (bucket, {', '.join(KEYS)}, {', '.join(COUNTERS)}) "
            f"SELECT {', '.join(values)} FROM (SELECT {_bin(f'{row}.latency_ms')} AS lb, "
            f"{_bin(f'{row}.ttft_ms')} AS tb) AS v WHERE {row}.outcome <> 'in_progress' "
            f"ON CONFLICT (bucket, {', '.join(KEYS)}) DO UPDATE SET {sets}")


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


def create_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        old = "; ".join(upsert(t, "OLD", -1, dialect) for t in GRAINS)
        new = "; ".join(upsert(t, "NEW", 1, dialect) for t in GRAINS)
        return [
            "CREATE FUNCTION ledger_stats_apply() RETURNS trigger AS $$ BEGIN "
            f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {old}; END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new}; END IF; "
            "RETURN NULL; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER ledger_stats AFTER INSERT OR UPDATE OR DELETE ON ledger "
            "FOR EACH ROW EXECUTE FUNCTION ledger_stats_apply()",
        ]
    bodies = {"insert": [("NEW", 1)], "update": [("OLD", -1), ("NEW", 1)],
              "delete": [("OLD", -1)]}
    return [f"CREATE TRIGGER ledger_stats_{event} AFTER {event.upper()} ON ledger BEGIN "
            + " ".join(f"{upsert(t, row, sign, dialect)};" for row, sign in rows for t in GRAINS)
            + " END" for event, rows in bodies.items()]


def drop_triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS ledger_stats ON ledger",
                "DROP FUNCTION IF EXISTS ledger_stats_apply()"]
    return [f"DROP TRIGGER IF EXISTS ledger_stats_{e}" for e in ("insert", "update", "delete")]


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
    for statement in create_triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    for table in GRAINS:
        op.drop_table(table)
    op.drop_index("ix_ledger_key_started", table_name="ledger")
    op.drop_index("ix_ledger_app_started", table_name="ledger")
    op.drop_index("ix_ledger_started_cover", table_name="ledger")
    op.drop_table("ui_sessions")
