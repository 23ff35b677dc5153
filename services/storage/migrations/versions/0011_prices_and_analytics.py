"""What Twilio charged for each message and call, and indexes for the analytics pane.

``price_micros`` is Twilio's own ``price`` (a negative decimal string: a charge) kept as
a positive cost in millionths of ``price_unit`` (e.g. ``-0.00790`` USD -> 7900);
``price_checked_at`` is when the price fetcher last asked Twilio (so a resource whose
price Twilio has not settled yet is asked again later, not on every tick). The indexes
keep every analytics figure an index range scan at a million messages.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("messages", "calls"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("price_micros", sa.BigInteger(), nullable=True))
            batch.add_column(sa.Column("price_unit", sa.String(length=3), nullable=True))
            batch.add_column(
                sa.Column("price_checked_at", sa.DateTime(timezone=True), nullable=True)
            )
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_messages_kind_created", "messages", ["kind", "created_at"])
    op.create_index("ix_messages_call_id", "messages", ["call_id"])
    op.create_index("ix_calls_contact_started", "calls", ["contact_id", "started_at"])
    op.create_index("ix_calls_outcome_started", "calls", ["outcome", "started_at"])
    op.create_index("ix_audit_action_at", "audit", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_action_at", table_name="audit")
    op.drop_index("ix_calls_outcome_started", table_name="calls")
    op.drop_index("ix_calls_contact_started", table_name="calls")
    op.drop_index("ix_messages_kind_created", table_name="messages")
    op.drop_index("ix_messages_call_id", table_name="messages")
    op.drop_index("ix_messages_created_at", table_name="messages")
    for table in ("calls", "messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("price_checked_at")
            batch.drop_column("price_unit")
            batch.drop_column("price_micros")
