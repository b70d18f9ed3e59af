"""Apps carry a risk class and a data classification, read by the policy.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("risk_class", sa.String(40), nullable=False,
                                   server_default="minimal"))
        batch.add_column(sa.Column("data_classification", sa.String(40), nullable=False,
                                   server_default="internal"))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("data_classification")
        batch.drop_column("risk_class")
