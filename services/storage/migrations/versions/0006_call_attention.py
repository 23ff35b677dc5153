"""Remember when the desk attended to a missed call.

The "Missed calls" badge counts missed calls still waiting for the desk; a call is
attended once its thread is opened or its callback is marked done. Calls recorded before
this revision count as attended (the desk worked from them already).

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
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE calls SET attended_at = started_at WHERE outcome = 'missed'")


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("attended_at")
