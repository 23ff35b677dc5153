"""When a contact last texted START (``contacts.opted_in_at``).

Twilio blocks per sender number. A contact who texted STOP to one location's number and
later START to another's is opted back in, but Twilio still refuses texts from the first
number with 21610. That refusal used to opt them out everywhere again; with the time of
their START known, it blocks only that number (``services.opt_outs``). Older rows have
none: a 21610 opts them out, as before.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("opted_in_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("opted_in_at")
