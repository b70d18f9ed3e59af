"""Budgets per key, app, team, tenant and end user.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        sa.Column("soft", sa.Float, nullable=True),
        sa.Column("hard", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float, nullable=True),
    )
    op.create_index("ix_budgets_updated_at", "budgets", ["updated_at"])
    op.create_index("uq_budgets_live", "budgets", ["scope", "subject_id", "period"],
                    unique=True, sqlite_where=sa.text("deleted_at IS NULL"),
                    postgresql_where=sa.text("deleted_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_budgets_live", "budgets")
    op.drop_index("ix_budgets_updated_at", "budgets")
    op.drop_table("budgets")
