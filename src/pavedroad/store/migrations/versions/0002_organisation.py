"""Tenants, teams and apps; every key belongs to an app.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT_TENANT, DEFAULT_TEAM, DEFAULT_APP = "ten_default", "team_default", "app_default"


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tenants_updated_at", "tenants", ["updated_at"])
    op.create_table(
        "teams",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_teams_tenant_name"),
    )
    op.create_index("ix_teams_updated_at", "teams", ["updated_at"])
    op.create_table(
        "apps",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("team_id", sa.String(40), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("fail_mode", sa.String(10), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("team_id", "name", name="uq_apps_team_name"),
    )
    op.create_index("ix_apps_updated_at", "apps", ["updated_at"])
    now = time.time()
    op.bulk_insert(sa.table("tenants", sa.column("id"), sa.column("name"), sa.column("limits", sa.JSON),
                            sa.column("created_at"), sa.column("updated_at")),
                   [{"id": DEFAULT_TENANT, "name": "default", "limits": {}, "created_at": now,
                     "updated_at": now}])
    op.bulk_insert(sa.table("teams", sa.column("id"), sa.column("tenant_id"), sa.column("name"),
                            sa.column("limits", sa.JSON), sa.column("created_at"),
                            sa.column("updated_at")),
                   [{"id": DEFAULT_TEAM, "tenant_id": DEFAULT_TENANT, "name": "default",
                     "limits": {}, "created_at": now, "updated_at": now}])
    op.bulk_insert(sa.table("apps", sa.column("id"), sa.column("team_id"), sa.column("name"),
                            sa.column("limits", sa.JSON), sa.column("tags", sa.JSON),
                            sa.column("fail_mode"), sa.column("settings", sa.JSON),
                            sa.column("created_at"), sa.column("updated_at")),
                   [{"id": DEFAULT_APP, "team_id": DEFAULT_TEAM, "name": "default", "limits": {},
                     "tags": {}, "fail_mode": "open", "settings": {}, "created_at": now,
                     "updated_at": now}])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("app_id", sa.String(40), nullable=False,
                                   server_default=DEFAULT_APP))
        batch.add_column(sa.Column("limits", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("tags", sa.JSON, nullable=False, server_default="{}"))
        batch.drop_column("team")
        batch.create_index("ix_api_keys_app_id", ["app_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_app_id")
        batch.add_column(sa.Column("team", sa.String(200), nullable=True))
        batch.drop_column("tags")
        batch.drop_column("limits")
        batch.drop_column("app_id")
    op.drop_table("apps")
    op.drop_table("teams")
    op.drop_table("tenants")
