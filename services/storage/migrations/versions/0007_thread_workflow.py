"""The desk's workflow on a thread: open / closed / snoozed, internal notes.

``conversations.state`` (open | closed | snoozed, owned by :mod:`services.threads`),
``snoozed_until`` and who changed it when; ``thread_notes`` holds the desk's internal
notes (never sent); ``ix_audit_subject_at`` lets a thread read its activity lines.
Conversations recorded before this revision are open.

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
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("state", sa.String(10), nullable=False, server_default="open"))
        batch.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("state_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("state_by", sa.String(100), nullable=True))
    op.create_index("ix_conversations_state", "conversations", ["state"])
    op.create_index("ix_audit_subject_at", "audit", ["subject", "at"])
    op.create_table(
        "thread_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_thread_notes_contact_id_contacts"
            ),
            nullable=False,
        ),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_thread_notes"),
    )
    op.create_index("ix_thread_notes_contact_id", "thread_notes", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_thread_notes_contact_id", table_name="thread_notes")
    op.drop_table("thread_notes")
    op.drop_index("ix_audit_subject_at", table_name="audit")
    op.drop_index("ix_conversations_state", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("state_by")
        batch.drop_column("state_at")
        batch.drop_column("snoozed_until")
        batch.drop_column("state")
