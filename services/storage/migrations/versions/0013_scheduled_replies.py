"""Texts the desk schedules for later: the typed body and its author wait on the job.

A scheduled reply has no message row until it is sent (the thread shows it as
"Scheduled for ..."); :meth:`services.outbox.Outbox.prepare` writes the row from
``jobs.body`` and ``jobs.author`` when the job runs.

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("author", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("author")
        batch.drop_column("body")
