"""Voicemails, number lookups and callbacks (issue 11).

Three new tables, nothing existing changes: ``voicemails`` (a recording per missed call,
its file in the data dir and its transcript), ``number_lookups`` (Twilio Lookup's line
type and caller name, once per number) and ``callbacks`` (calls from the business
number back to a caller).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voicemails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recording_sid", sa.String(64), nullable=False),
        sa.Column(
            "call_id",
            sa.Integer(),
            sa.ForeignKey("calls.id", ondelete="CASCADE", name="fk_voicemails_call_id_calls"),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_voicemails_contact_id_contacts"
            ),
            nullable=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(100), nullable=True),
        sa.Column("file_bytes", sa.Integer(), nullable=True),
        sa.Column("fetch_error", sa.String(300), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_voicemails"),
        sa.UniqueConstraint("recording_sid", name="uq_voicemails_recording_sid"),
    )
    op.create_index("ix_voicemails_call_id", "voicemails", ["call_id"])
    op.create_index("ix_voicemails_contact_id", "voicemails", ["contact_id"])
    op.create_index("ix_voicemails_created_at", "voicemails", ["created_at"])
    op.create_table(
        "number_lookups",
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("line_type", sa.String(30), nullable=True),
        sa.Column("carrier_name", sa.String(200), nullable=True),
        sa.Column("caller_name", sa.String(200), nullable=True),
        sa.Column("caller_type", sa.String(20), nullable=True),
        sa.Column("looked_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name="pk_number_lookups"),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_callbacks_contact_id_contacts"
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
        sa.UniqueConstraint("sid", name="uq_callbacks_sid"),
    )
    op.create_index("ix_callbacks_contact_id", "callbacks", ["contact_id"])
    op.create_index("ix_callbacks_started_at", "callbacks", ["started_at"])


def downgrade() -> None:
    op.drop_table("callbacks")
    op.drop_table("number_lookups")
    op.drop_table("voicemails")
