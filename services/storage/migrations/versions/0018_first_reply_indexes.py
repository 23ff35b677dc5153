"""Indexes for "time to first human reply" (issue 13 item 9).

The figure pairs each trigger of the period (an inbound text, a missed call) with its
thread's next manual text. ``ix_messages_kind_created`` gains ``conversation_id`` so the
period's inbound texts are read from the index alone, and
``ix_messages_conversation_kind_created`` answers "the thread's next manual text at or
after this moment" with one seek. Nothing else changes.

Revision ID: 0018
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_kind_created", table_name="messages")
    op.create_index(
        "ix_messages_kind_created", "messages", ["kind", "created_at", "conversation_id"]
    )
    op.create_index(
        "ix_messages_conversation_kind_created",
        "messages",
        ["conversation_id", "kind", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_messages_conversation_kind_created", table_name="messages")
    op.drop_index("ix_messages_kind_created", table_name="messages")
    op.create_index("ix_messages_kind_created", "messages", ["kind", "created_at"])
