"""Joining an office: is this database one every PC of the office can share?

An office shares one PostgreSQL database (SQLite is one PC's: its locking does not hold
over a network share). :func:`check_database` tries what was typed, on the spot, and
says what is wrong in words: nothing answers (refused, unknown host, timeout), wrong
user or password, no such database, a server older than :data:`MINIMUM_SERVER`, a role
that may not create tables, or a SQLite file on a network share.

The URL a PC uses is stored on the PC (``this-pc.json``) without its password; the
password goes to the OS keyring. :func:`split_password` and :func:`with_password` do
that split. ``FRONTDESK_DATABASE_URL`` overrides both.

Everything here that talks to a server blocks: call it off the GUI thread.
"""

from __future__ import annotations

import contextlib
import ntpath
import os
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.health import DatabaseCheck

MINIMUM_SERVER = 130000  # PostgreSQL 13: the oldest still supported upstream
CONNECT_TIMEOUT = 5  # seconds
NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ncpfs", "davfs"}
)
_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


class OfficeDatabaseError(ValueError):
    """A database URL that cannot be used; the message says why and what to do."""


def normalise_url(text: str) -> str:
    """``postgresql+psycopg://…`` for what the owner typed (``postgres://``,
    ``postgresql://`` and the psycopg form are all accepted); OfficeDatabaseError else.

    A SQLite URL or a plain file path is refused with the reason (one PC's database).
    """
    raw = text.strip()
    if not raw:
        raise OfficeDatabaseError("Type the office database's address (postgresql://…).")
    if "\x00" in raw or len(raw) > 2000:
        raise OfficeDatabaseError("That is not a database address.")
    if raw.startswith("sqlite") or "://" not in raw:
        raise OfficeDatabaseError(sqlite_problem(raw))
    try:
        url = make_url(raw)
    except ArgumentError:
        raise OfficeDatabaseError(
            "That is not a database address: it looks like postgresql://user@server:5432/frontdesk"
        ) from None
    if url.drivername not in _SCHEMES:
        raise OfficeDatabaseError(
            f"{url.drivername}:// is not supported: an office shares a PostgreSQL database "
            "(postgresql://user@server:5432/frontdesk)."
        )
    if not url.host:
        raise OfficeDatabaseError(
            "Say which computer the database is on: postgresql://user@SERVER/…"
        )
    if not url.database:
        raise OfficeDatabaseError("Say which database: postgresql://user@server/DATABASE")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sqlite_problem(text: str) -> str:
    """Why a SQLite database cannot be the office's (worded for a network share or not)."""
    path = text.split("///", 1)[1] if text.startswith("sqlite") and "///" in text else text
    if on_network_share(path):
        return (
            f"{path} is on a network share. SQLite is one PC's database: over a share its "
            "locking does not hold and the data can be damaged. An office shares a "
            "PostgreSQL database instead (see the README: “An office on several PCs”)."
        )
    return (
        "SQLite is one PC's database (this PC already has its own). An office shares a "
        "PostgreSQL database: postgresql://user@server:5432/frontdesk"
    )


def on_network_share(path: str, *, mounts: str | None = None) -> bool:
    """True when ``path`` is a Windows UNC path (``\\\\server\\share``, ``//server/share``)
    or lies under a network file system mount (``mounts``: /proc/mounts' text; read
    from the system when None)."""
    if path.startswith(("\\\\", "//")) or ntpath.splitdrive(path)[0].startswith("\\\\"):
        return True
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    target = os.path.abspath(os.path.expanduser(path))
    best, best_type = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, best_type = point, fields[2]
    return best_type in NETWORK_FILESYSTEMS or best_type.startswith("nfs")


def split_password(url: str) -> tuple[str, str | None]:
    """``(the URL without its password, the password or None)``."""
    parsed = make_url(url)
    password = parsed.password
    bare = parsed._replace(password=None).render_as_string(hide_password=False)
    return bare, (str(password) if password is not None else None)


def with_password(url: str, password: str | None) -> str:
    """``url`` carrying ``password`` (unchanged when None or when it has one already)."""
    parsed = make_url(url)
    if not password or parsed.password is not None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)


def shown(url: str) -> str:
    """``url`` with its password masked, for screens and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database address)"


def _version_words(number: int) -> str:
    major = number // 10000
    return (
        f"{major}.{number % 10000}" if major >= 10 else f"{number // 10000}.{number // 100 % 100}"
    )


def check_database(
    text: str, password: str | None = None, *, minimum: int = MINIMUM_SERVER
) -> DatabaseCheck:
    """Connect to the database ``text`` names (with ``password`` unless the URL has one)
    and say whether this office can use it. Blocks up to ~:data:`CONNECT_TIMEOUT` s."""
    try:
        url = with_password(normalise_url(text), password)
    except OfficeDatabaseError as exc:
        return DatabaseCheck(False, str(exc))
    parsed = make_url(url)
    where = f"{parsed.host}:{parsed.port or 5432}"
    user, database = parsed.username or "(your login name)", parsed.database or ""
    try:
        conn = psycopg.connect(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False),
            connect_timeout=CONNECT_TIMEOUT,
            application_name="frontdesk-check",
        )
    except psycopg.OperationalError as exc:
        return DatabaseCheck(False, _connect_problem(exc, where, user, database))
    except psycopg.Error as exc:
        return DatabaseCheck(False, f"The database at {where} refused the connection: {exc}")
    with contextlib.closing(conn):
        number = conn.info.server_version
        version = _version_words(number)
        if number < minimum:
            return DatabaseCheck(
                False,
                f"The server at {where} runs PostgreSQL {version}; Frontdesk needs "
                f"PostgreSQL {minimum // 10000} or newer. Upgrade it, or install a "
                "current PostgreSQL for the office.",
                version,
            )
        try:
            may_create = conn.execute(
                "SELECT has_schema_privilege(current_schema(), 'CREATE')"
            ).fetchone()
        except psycopg.Error as exc:
            return DatabaseCheck(False, f"Could not check {database}: {exc}", version)
        if not may_create or not may_create[0]:
            return DatabaseCheck(
                False,
                f"{user} may not create tables in {database}. Make it the database's owner "
                f"on the server: ALTER DATABASE {database} OWNER TO {user};",
                version,
            )
    return DatabaseCheck(True, "", version)


def _connect_problem(exc: psycopg.OperationalError, where: str, user: str, database: str) -> str:
    state = exc.sqlstate or ""
    text = str(exc)
    if state == "28P01" or "password authentication failed" in text:
        return f"Wrong user name or password for {user} at {where}."
    if "no password supplied" in text:
        return f"The server at {where} wants a password for {user}: type it in Password."
    if state == "3D000" or (database and f'database "{database}" does not exist' in text):
        return (
            f"There is no database called {database} at {where}. Create it on the server "
            f"(createdb -O {user} {database}), or check the name."
        )
    if state == "28000" or "no pg_hba.conf entry" in text:
        return (
            f"The server at {where} does not let {user} in from this PC: add this PC's "
            "network to its pg_hba.conf (see the README) and reload it."
        )
    if "Connection refused" in text:
        return (
            f"Nothing answers at {where}: is PostgreSQL running there, listening on the "
            "network (listen_addresses), and is port 5432 open in its firewall?"
        )
    if "could not translate host name" in text or "Name or service not known" in text:
        return f"No computer called {where.rsplit(':', 1)[0]} was found on the network."
    if "timeout" in text.lower():
        return f"{where} did not answer within {CONNECT_TIMEOUT} s: is the address right?"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"Could not connect to {where}: {first}"
