"""Retrieval: collections shared with apps, documents, chunks with their embeddings.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rag_collections",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("embedder", sa.String(200), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_rag_collections_tenant_name"),
    )
    op.create_index("ix_rag_collections_tenant_id", "rag_collections", ["tenant_id"])
    op.create_table(
        "rag_collection_apps",
        sa.Column("collection_id", sa.String(40), sa.ForeignKey("rag_collections.id"),
                  primary_key=True),
        sa.Column("app_id", sa.String(40), primary_key=True),
    )
    op.create_index("ix_rag_collection_apps_app_id", "rag_collection_apps", ["app_id"])
    op.create_table(
        "rag_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("collection_id", sa.String(40), sa.ForeignKey("rag_collections.id"),
                  nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("collection_id", "source", name="uq_rag_documents_source"),
    )
    op.create_table(
        "rag_chunks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("collection_id", sa.String(40), nullable=False),
        sa.Column("document_id", sa.String(40), sa.ForeignKey("rag_documents.id"),
                  nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("start_offset", sa.Integer, nullable=False),
        sa.Column("end_offset", sa.Integer, nullable=False),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("embedder", sa.String(200), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_rag_chunks_collection_id", "rag_chunks", ["collection_id"])
    op.create_index("ix_rag_chunks_document_id", "rag_chunks", ["document_id"])
    op.create_index("ix_rag_chunks_embedding_cache", "rag_chunks", ["embedder", "text_hash"])


def downgrade() -> None:
    op.drop_table("rag_chunks")
    op.drop_table("rag_documents")
    op.drop_table("rag_collection_apps")
    op.drop_table("rag_collections")
