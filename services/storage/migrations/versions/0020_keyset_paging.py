"""An index for the conversation list's keyset paging (issue 10).

``Inbox.conversations`` pages by ``(last_message_at, id) < cursor`` ordered by both,
descending: ``ix_conversations_last_message_at_id`` makes each page one range scan on
PostgreSQL (whose single-column ``ix_conversations_last_message_at`` does not hold the id;
SQLite's holds the rowid, so this one only states the order there). Nothing else changes.

Revision ID: 0020
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_last_message_at_id", "conversations", ["last_message_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_last_message_at_id", table_name="conversations")
