"""The number each send's create request went From (issue 8).

A send whose answer was lost is looked up in Twilio's log by To, From, body and time.
The From was the location's number *at look-up time*: if the owner changed the number in
between, the look-up searched under the new one, found nothing and sent the text again.
``jobs.sent_from`` keeps the From of the last create (set with ``maybe_sent_since``).
Older rows have none and are looked up under the location's number, as before.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("sent_from", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("sent_from")
