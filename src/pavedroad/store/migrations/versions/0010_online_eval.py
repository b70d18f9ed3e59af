"""Online evaluation: one row per score a cheap scorer gave a sampled live answer.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "online_eval_scores",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("scorer", sa.String(100), primary_key=True),
        sa.Column("tenant_id", sa.String(40), nullable=True),
        sa.Column("app_id", sa.String(40), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_online_eval_scores_app_created", "online_eval_scores",
                    ["app_id", "created_at"])
    op.create_index("ix_online_eval_scores_tenant_created", "online_eval_scores",
                    ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_table("online_eval_scores")
