"""The send lifecycle: every outbound text is a job, and the job's state is the truth.

- ``jobs.state`` takes services.sends.SendState's values: ``sending`` becomes
  ``claimed`` (a create may have left: ``maybe_sent_since`` is set from ``claimed_at``
  when a message row was written), ``done`` becomes ``sent``, and a pending text-back
  whose call said ``held`` becomes ``held``.
- ``jobs.maybe_sent_since``: set before each create request; while set, the carrier's
  log is read before any resend.
- ``jobs.contact_id`` may be empty: a text-back refused for an anonymous caller is a job
  too (``skipped``), so a call's text-back state is always its job's.
- ``calls.textback_state`` / ``textback_reason`` (a hand-kept copy of the job's state)
  are dropped; decisions that had no job get one first.
- ``early_statuses``: delivery callbacks that beat the SID, kept in the database.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("maybe_sent_since", sa.DateTime(timezone=True), nullable=True))
        batch.alter_column("contact_id", existing_type=sa.Integer(), nullable=True)

    op.execute(
        "UPDATE jobs SET maybe_sent_since = claimed_at "
        "WHERE state = 'sending' AND message_id IS NOT NULL"
    )
    op.execute("UPDATE jobs SET state = 'claimed' WHERE state = 'sending'")
    op.execute("UPDATE jobs SET state = 'sent' WHERE state = 'done'")
    op.execute(
        "UPDATE jobs SET state = 'held' WHERE state = 'pending' AND kind = 'textback' "
        "AND call_id IN (SELECT id FROM calls WHERE textback_state = 'held')"
    )
    # Decisions recorded only on the call (policy said no): give each its job.
    op.execute(
        "INSERT INTO jobs (kind, state, due_at, contact_id, call_id, template_key, attempts, "
        "reason, created_at, finished_at) "
        "SELECT 'textback', c.textback_state, c.started_at, c.contact_id, c.id, '', 0, "
        "c.textback_reason, c.started_at, c.started_at FROM calls c "
        "WHERE c.textback_state IN ('skipped', 'failed', 'cancelled') AND NOT EXISTS "
        "(SELECT 1 FROM jobs j WHERE j.call_id = c.id AND j.kind = 'textback')"
    )
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("textback_reason")
        batch.drop_column("textback_state")

    op.create_table(
        "early_statuses",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_early_statuses")),
    )
    op.create_index(
        op.f("ix_early_statuses_received_at"), "early_statuses", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_early_statuses_received_at"), table_name="early_statuses")
    op.drop_table("early_statuses")
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("textback_state", sa.String(length=12), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("textback_reason", sa.String(length=300), nullable=True))
    op.execute(
        "UPDATE calls SET textback_state = COALESCE((SELECT CASE j.state "
        "WHEN 'pending' THEN 'scheduled' WHEN 'claimed' THEN 'scheduled' "
        "WHEN 'uncertain' THEN 'scheduled' ELSE j.state END FROM jobs j "
        "WHERE j.call_id = calls.id AND j.kind = 'textback' ORDER BY j.id LIMIT 1), 'none')"
    )
    op.execute("DELETE FROM jobs WHERE contact_id IS NULL")
    op.execute("UPDATE jobs SET state = 'done' WHERE state = 'sent'")
    op.execute("UPDATE jobs SET state = 'sending' WHERE state IN ('claimed', 'uncertain')")
    op.execute("UPDATE jobs SET state = 'pending' WHERE state = 'held'")
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("contact_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("maybe_sent_since")
