"""The audit trail (hash-chained records, chain head, journal offsets) and key roles.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=True),
        sa.Column("app_id", sa.String(40), nullable=True),
        sa.Column("retain_until", sa.Float, nullable=True),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_records_at", "audit_records", ["at"])
    op.create_index("ix_audit_records_tenant_id", "audit_records", ["tenant_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("base_seq", sa.BigInteger, nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "audit_offsets",
        sa.Column("writer", sa.String(40), primary_key=True),
        sa.Column("file", sa.String(200), primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("writer", sa.String(40), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_pending_writer", "audit_pending", ["writer"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("role", sa.String(20), nullable=False,
                                   server_default="caller"))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")
    op.drop_index("ix_audit_pending_writer", "audit_pending")
    op.drop_table("audit_pending")
    op.drop_table("audit_offsets")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_records_tenant_id", "audit_records")
    op.drop_index("ix_audit_records_at", "audit_records")
    op.drop_table("audit_records")
