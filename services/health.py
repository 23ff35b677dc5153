"""Plain snapshots for the webhook-health page and the connection box (pure; ui/ may import).

The composition root fills them (``desktop/health.py``, ``desktop/connection.py``) from
the runtime, the gateway and the keyring; the widgets only show them. No secret is ever
part of a snapshot: the connection box learns *whether* a token is stored, never which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "AccountCheckResult",
    "ConnectionDetails",
    "ConnectionEntry",
    "DatabaseCheck",
    "HealthSnapshot",
    "LocationNumber",
    "MessagingProblem",
    "NumberWebhooks",
    "OfficeBusiness",
    "OfficeDatabaseDetails",
    "RefusalCount",
    "WebhookRow",
]


@dataclass(frozen=True, slots=True)
class AccountCheckResult:
    """ "Test connection": ``ok`` when nothing is wrong, else ``problems`` in words."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    account_name: str | None = None
    number_sid: str | None = None


@dataclass(frozen=True, slots=True)
class NumberWebhooks:
    """Where the business number's webhooks point right now (fetched from Twilio)."""

    phone_number: str
    sid: str
    voice_url: str
    voice_fallback_url: str
    sms_url: str
    status_callback: str
    points_here: bool  # VoiceUrl, SmsUrl and StatusCallback are under our public URL
    expected_voice_url: str | None  # what VoiceUrl should be (None: no public URL yet)
    # What the number can do (Twilio's capabilities; None: Twilio did not say).
    voice_capable: bool | None = None
    sms_capable: bool | None = None


@dataclass(frozen=True, slots=True)
class LocationNumber:
    """One location's number on the health page: where its webhooks point right now.

    ``webhooks`` is None when the number could not be read (``error`` says why: not on
    this Twilio account, Twilio unreachable); ``error`` also carries why it could not be
    wired when it was read but does not point here.
    """

    location_id: int
    location: str  # the location's name
    phone_number: str
    webhooks: NumberWebhooks | None
    error: str | None
    wired: bool  # this process pointed it here in this run

    @property
    def points_here(self) -> bool:
        return self.webhooks is not None and self.webhooks.points_here


@dataclass(frozen=True, slots=True)
class WebhookRow:
    """One webhook request seen by the receiver (accepted or rejected)."""

    at: datetime
    path: str
    status: int
    reason: str | None = None
    checked_url: str | None = None  # the URL the signature was checked against
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class RefusalCount:
    """How many webhook requests were refused on ``path`` for ``reason``, in all."""

    path: str
    reason: str
    status: int
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class MessagingProblem:
    """Every text failing for one reason the owner must fix (services.messaging_health)."""

    code: int
    title: str
    meaning: str
    steps: tuple[str, ...]
    failed_count: int
    since: datetime
    #: Whose texts fail, when the office has several numbers ("" otherwise, or when the
    #: failures span every location): the location's name and its number (E.164).
    location: str = ""
    number: str = ""


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """Everything the health page shows, read at one moment."""

    public_url: str | None
    tunnel_state: str  # connecting | up | down | stopped | fixed | none
    tunnel_error: str | None
    business_number: str
    number: NumberWebhooks | None
    number_error: str | None  # why ``number`` could not be read
    wiring_error: str | None
    catchup_error: str | None
    wired: bool
    disconnected: bool
    last_accepted: WebhookRow | None
    rejected: list[WebhookRow] = field(default_factory=list)  # the last few, newest first
    refused: list[RefusalCount] = field(default_factory=list)  # totals, most first
    # CallSids answered whose record has not been saved (yet): never silently lost.
    unsaved_calls: list[str] = field(default_factory=list)
    # MessageSids of inbound texts received whose record has not been saved (yet).
    unsaved_texts: list[str] = field(default_factory=list)
    # The office (several PCs on one PostgreSQL database; on SQLite: not shared, holding).
    office_shared: bool = False
    pc_name: str = ""  # this PC's name
    holding: bool = True  # this process holds the business number
    holder: str | None = None  # the PC that holds it (None: nobody right now)

    @property
    def desk_client(self) -> bool:
        """Another PC receives the number's calls and texts; this one works the inbox."""
        return self.office_shared and not self.holding

    # Every text failing for a reason the owner must fix (unregistered number, ...).
    messaging: MessagingProblem | None = None
    # Every location's number that is set, the first location's first (``number`` is
    # the first's webhooks, ``number_error`` why they could not be read).
    numbers: list[LocationNumber] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        if self.desk_client:
            return self.holder is not None
        return (
            self.public_url is not None
            and self.number is not None
            and self.number.points_here
            and all(n.points_here for n in self.numbers)
            and not self.wiring_error
            and not self.disconnected
            and not self.unsaved_calls
            and not self.unsaved_texts
        )


@dataclass(frozen=True, slots=True)
class ConnectionDetails:
    """What is configured, without the secrets themselves."""

    account_sid: str
    has_auth_token: bool
    api_key_sid: str
    has_api_key_secret: bool
    has_ngrok_authtoken: bool
    public_url: str  # the fixed public URL setting (tunnel.public_url); "" = ngrok
    source: str  # environment | keyring | none
    keyring_usable: bool
    keyring_message: str
    restart_needed: bool = False  # credentials changed since the engine started


@dataclass(frozen=True, slots=True)
class ConnectionEntry:
    """What the owner typed. An empty secret field means "keep the stored one"."""

    account_sid: str
    auth_token: str = ""
    api_key_sid: str = ""
    api_key_secret: str = ""
    ngrok_authtoken: str = ""
    public_url: str = ""

    def __repr__(self) -> str:  # never print what was typed into a secret field
        return (
            f"ConnectionEntry(account_sid={self.account_sid!r}, auth_token=***, "
            f"api_key_sid={self.api_key_sid!r}, api_key_secret=***, ngrok_authtoken=***, "
            f"public_url={self.public_url!r})"
        )


@dataclass(frozen=True, slots=True)
class DatabaseCheck:
    """Whether an office database can be used (services.office_db.check_database):
    ``ok``, or ``problem`` in words."""

    ok: bool
    problem: str = ""
    server_version: str = ""  # e.g. "15.4" when a server answered


@dataclass(frozen=True, slots=True)
class OfficeDatabaseDetails:
    """Which database this PC works on; never the password."""

    in_use: str  # the running database's URL, password masked (or the SQLite path)
    shared: bool  # PostgreSQL: the office's database
    source: str  # environment (FRONTDESK_DATABASE_URL) | this-pc | own
    joined: str  # the URL stored on this PC for the next start ("" = its own SQLite)
    restart_needed: bool  # what is stored differs from what runs


@dataclass(frozen=True, slots=True)
class OfficeBusiness:
    """The business an office database is already set up for (its shared settings)."""

    name: str
    phone_number: str
