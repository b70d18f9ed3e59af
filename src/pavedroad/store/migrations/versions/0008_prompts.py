"""The prompt registry: prompts, immutable versions, labels, label history, gate results;
the ledger records which prompt version rendered a request.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("app_id", "name", name="uq_prompts_app_name"),
    )
    op.create_index("ix_prompts_tenant_id", "prompts", ["tenant_id"])
    op.create_index("ix_prompts_updated_at", "prompts", ["updated_at"])
    op.create_table(
        "prompt_versions",
        sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("prompt_id", "content_hash", name="uq_prompt_versions_hash"),
    )
    op.create_table(
        "prompt_labels",
        sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), primary_key=True),
        sa.Column("label", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "prompt_label_history",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_prompt_label_history_prompt_id", "prompt_label_history", ["prompt_id"])
    op.create_table(
        "prompt_gate_results",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prompt_id", sa.String(40), sa.ForeignKey("prompts.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("gate", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index("ix_prompt_gate_results_version", "prompt_gate_results",
                    ["prompt_id", "version"])
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("prompt_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("prompt_version", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("prompt_version")
        batch.drop_column("prompt_id")
    op.drop_index("ix_prompt_gate_results_version", "prompt_gate_results")
    op.drop_table("prompt_gate_results")
    op.drop_index("ix_prompt_label_history_prompt_id", "prompt_label_history")
    op.drop_table("prompt_label_history")
    op.drop_table("prompt_labels")
    op.drop_table("prompt_versions")
    op.drop_index("ix_prompts_updated_at", "prompts")
    op.drop_index("ix_prompts_tenant_id", "prompts")
    op.drop_table("prompts")
