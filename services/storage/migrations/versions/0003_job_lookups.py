"""Index jobs by call and by contact.

The Missed calls list and a reply's cancelling of pending jobs look them up that way,
and jobs grow with every call.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.create_index("ix_jobs_call_id", ["call_id"])
        batch.create_index("ix_jobs_contact_id", ["contact_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_contact_id")
        batch.drop_index("ix_jobs_call_id")
