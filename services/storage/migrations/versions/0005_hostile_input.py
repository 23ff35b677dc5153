"""Hold what Twilio can send; refused webhooks counted, not stored one row each; standard tags.

- Text instead of short VARCHARs for the columns a webhook fills (PostgreSQL refuses a
  value past a VARCHAR's length: a 35-character alphanumeric sender, an 80-character SIP
  address, a new CallStatus value). SQLite never enforced those lengths, and its ALTER
  TABLE cannot change a column's type without rebuilding the table, which would fire the
  ON DELETE CASCADEs of every table pointing at it (foreign keys are on inside the
  migration's transaction). VARCHAR(n) and TEXT have the same (TEXT) affinity in SQLite,
  so only the declared type in the schema text changes: the documented
  ``writable_schema`` way, with the schema version bumped so every connection reloads it.
- ``webhook_refusals``: refused requests counted per (path, reason); the last few stay in
  ``webhook_events``, which is pruned, so a flood of unsigned requests costs O(1) storage.
- The standard tags exist from the start, so two first missed calls on a fresh shared
  database never race to create "missed call".

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, the old length)
WIDENED = (
    ("contacts", "phone", 32),
    ("calls", "from_raw", 200),
    ("calls", "to_number", 64),
    ("calls", "status", 20),
    ("calls", "dial_status", 20),
    ("messages", "status", 20),
)
STANDARD_TAGS = ("missed call", "pending callback", "booked")


def _sqlite_retype(to_text: bool) -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table in sorted({t for t, _c, _n in WIDENED}):
            (sql,) = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).one()
            for t, column, length in WIDENED:
                if t != table:
                    continue
                before, after = f"{column} VARCHAR({length})", f"{column} TEXT"
                if not to_text:
                    before, after = after, before
                # One column definition: at the start of a line, followed by a space/comma.
                pattern = r"(?m)^(\s*)" + re.escape(before) + r"(?=[ ,])"
                repl = r"\g<1>" + after.replace("\\", r"\\")
                sql, count = re.subn(pattern, repl, sql, count=1)
                if count != 1:
                    raise RuntimeError(f"unexpected schema for {table}.{column}")
            conn.exec_driver_sql(
                "UPDATE sqlite_master SET sql=? WHERE type='table' AND name=?", (sql, table)
            )
        (version,) = conn.exec_driver_sql("PRAGMA schema_version").one()
        conn.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_retype(to_text=True)
    else:
        for table, column, length in WIDENED:
            op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))
    op.create_table(
        "webhook_refusals",
        sa.Column("path", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path", "reason", name=op.f("pk_webhook_refusals")),
    )
    tags = sa.table("tags", sa.column("name", sa.String))
    present = {row[0] for row in op.get_bind().execute(sa.select(tags.c.name))}
    missing = [{"name": name} for name in STANDARD_TAGS if name not in present]
    if missing:
        op.bulk_insert(tags, missing)


def downgrade() -> None:
    op.drop_table("webhook_refusals")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_retype(to_text=False)
    else:
        for table, column, length in WIDENED:
            # Values longer than the old length are cut: the old schema cannot hold them.
            op.alter_column(
                table,
                column,
                type_=sa.String(length),
                existing_type=sa.Text(),
                postgresql_using=f"left({column}, {length})",
            )
