"""Locations: several Twilio numbers in one office (issue 13).

``locations`` names each of the office's numbers; the first (id 1, created here, named
"Main") is the office itself: its values are the office's settings keys, as before.
``location_settings`` holds what another location sets differently (its phone number,
hours, templates, ...); anything it does not set falls back to the office's value
(services/locations.py resolves them).

A conversation now belongs to a contact *and* a location (the number they called or
texted): one contact, one thread per location. Every existing thread, call and job is
the first location's. Calls and jobs remember their location too, so a text-back or a
reply leaves from the number the caller used.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    locations = op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
        sa.UniqueConstraint("name", name="uq_locations_name"),
    )
    op.bulk_insert(locations, [{"id": 1, "name": "Main", "created_at": datetime.now(UTC)}])
    if op.get_bind().dialect.name == "postgresql":
        # The explicit id above leaves the sequence at 1: the next location must get 2.
        op.execute("SELECT setval(pg_get_serial_sequence('locations', 'id'), 1)")
    op.create_table(
        "location_settings",
        sa.Column(
            "location_id",
            sa.Integer(),
            sa.ForeignKey(
                "locations.id",
                ondelete="CASCADE",
                name="fk_location_settings_location_id_locations",
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("location_id", "key", name="pk_location_settings"),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("location_id", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch.create_foreign_key(
            "fk_conversations_location_id_locations", "locations", ["location_id"], ["id"]
        )
        batch.drop_constraint("uq_conversations_contact_id", type_="unique")
        batch.create_unique_constraint(
            "uq_conversations_contact_id_location_id", ["contact_id", "location_id"]
        )
    for table in ("calls", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("location_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_location_id_locations", "locations", ["location_id"], ["id"]
            )


def downgrade() -> None:
    for table in ("jobs", "calls"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_location_id_locations", type_="foreignkey")
            batch.drop_column("location_id")
    op.execute("DELETE FROM conversations WHERE location_id <> 1")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("uq_conversations_contact_id_location_id", type_="unique")
        batch.create_unique_constraint("uq_conversations_contact_id", ["contact_id"])
        batch.drop_constraint("fk_conversations_location_id_locations", type_="foreignkey")
        batch.drop_column("location_id")
    op.drop_table("location_settings")
    op.drop_table("locations")
