"""'Test connection': are these Twilio credentials and this number ready to go live?

:class:`TwilioAccountCheck` fetches the account and the business number through the
gateway and says, in words the owner can act on, everything that is wrong:

- the Account SID is not ``AC`` + 32 hex characters (checked before any request),
- the auth token (or API key) is refused (HTTP 401 / Twilio 20003),
- the account is suspended or closed,
- the number is not on this account (or not set, or not a phone number),
- the number cannot receive SMS (or calls) (``capabilities``),
- the same for every other location's number (``other_numbers``).

Nothing is ever raised for a Twilio answer: :meth:`TwilioAccountCheck.run` returns an
:class:`AccountCheckResult`. The token never appears in a problem or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from services import phones
from services.credentials import CredentialsError, TwilioCredentials, validate_account_sid
from services.gateway import AccountInfo, TwilioGateway
from services.health import AccountCheckResult
from services.ports import AuthenticationError, CarrierError, NumberConfig

__all__ = ["AccountCheckResult", "AccountGateway", "TwilioAccountCheck"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class AccountGateway(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def fetch_account(self) -> AccountInfo: ...

    async def find_number(self, phone_number: str) -> NumberConfig | None: ...


def account_gateway(creds: TwilioCredentials, base_url: str | None) -> AccountGateway:
    """A gateway for one check: few retries, a patient timeout (the owner is waiting)."""
    return TwilioGateway(
        creds.account_sid,
        creds.auth_token or "",
        api_key=creds.api_key_sid,
        api_secret=creds.api_key_secret,
        base_url=base_url,
        max_attempts=2,
        backoff_seconds=0.5,
        timeout_seconds=15.0,
    )


class TwilioAccountCheck:
    """Checks credentials + business number against Twilio (or a Twilio-compatible base).

    ``gateway_factory`` builds the gateway for the credentials (tests and the composition
    root may pass their own); the gateway is started and closed by :meth:`run`.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        gateway_factory: Callable[[TwilioCredentials], AccountGateway] | None = None,
    ) -> None:
        self._factory = gateway_factory or (lambda creds: account_gateway(creds, base_url))

    async def run(
        self,
        creds: TwilioCredentials,
        business_number: str,
        other_numbers: Sequence[str] = (),
    ) -> AccountCheckResult:
        """Check the account, the business number and each of ``other_numbers`` (the
        other locations' numbers); ``number_sid`` is the business number's."""
        problems: list[str] = []
        try:
            validate_account_sid(creds.account_sid)
        except CredentialsError as exc:
            return AccountCheckResult(False, [str(exc)])
        if not creds.auth_ok:
            return AccountCheckResult(
                False, ["Enter the auth token (Twilio Console home page, under Account Info)."]
            )
        number_e164 = phones.normalize(business_number) if business_number else None
        gateway = self._factory(creds)
        try:
            await gateway.start()
            account = await self._account(gateway, problems)
            if account is None:
                return AccountCheckResult(False, problems)
            number = await _number(gateway, business_number, number_e164, problems)
            for other in other_numbers:
                await _number(gateway, other, phones.normalize(other), problems)
        finally:
            await gateway.close()
        return AccountCheckResult(
            not problems,
            problems,
            account_name=account.friendly_name or account.sid,
            number_sid=number.sid if number is not None else None,
        )

    async def _account(self, gateway: AccountGateway, problems: list[str]) -> AccountInfo | None:
        account = await _guard(gateway.fetch_account, problems, what="the account")
        if account is None:
            return None
        if account.status == "suspended":
            problems.append(
                f"The Twilio account {account.friendly_name or account.sid} is suspended: "
                "texts and calls are blocked until it is reactivated (check billing in "
                "the Twilio Console)."
            )
        elif account.status == "closed":
            problems.append(
                f"The Twilio account {account.friendly_name or account.sid} is closed; "
                "use the credentials of an active account."
            )
        elif account.status and account.status != "active":
            problems.append(f"The Twilio account is {account.status}, not active.")
        return account


async def _number(
    gateway: NumberFinder,
    raw: str,
    e164: str | None,
    problems: list[str],
) -> NumberConfig | None:
    if not raw:
        problems.append(
            "The business phone number is not set (Settings → Business: the Twilio "
            "number callers dial, like +15551234567)."
        )
        return None
    if e164 is None:
        problems.append(f"{raw!r} is not a phone number (use +country code, e.g. +15551234567).")
        return None

    async def find() -> NumberConfig | None:
        return await gateway.find_number(e164)

    number = await _guard(find, problems, what="the phone numbers")
    if number is None:
        if not any(p.startswith("Could not") for p in problems):
            problems.append(
                f"{e164} is not a phone number on this Twilio account. Check the "
                "business number, or use the Account SID of the account that owns it "
                "(Twilio Console → Phone Numbers → Active numbers)."
            )
        return None
    caps = number.capabilities
    if caps.get("sms") is False:
        problems.append(
            f"{e164} cannot receive or send SMS (its capabilities say no SMS); "
            "text-back needs an SMS-capable number."
        )
    if caps.get("voice") is False:
        problems.append(f"{e164} cannot receive calls (its capabilities say no voice).")
    return number


class NumberFinder(Protocol):
    async def find_number(self, phone_number: str) -> NumberConfig | None: ...


async def number_problems(finder: NumberFinder, number: str) -> list[str]:
    """What stops ``number`` from being a business number on the account ``finder``
    looks in (not on it, no SMS, no voice), in words; [] when it can be used."""
    problems: list[str] = []
    await _number(finder, number, phones.normalize(number) if number else None, problems)
    return problems


async def _guard(op: Callable[[], Awaitable[_T]], problems: list[str], *, what: str) -> _T | None:
    try:
        return await op()
    except AuthenticationError:
        problems.append(
            "Twilio refused the credentials (error 20003): the auth token does not belong "
            "to this Account SID. Copy both again from the Twilio Console home page; if "
            "you use an API key, check the key SID and its secret."
        )
    except CarrierError as exc:
        if exc.status == 404 and what == "the account":
            problems.append(
                "Twilio does not know this Account SID (404). Check it on the Twilio Console "
                "home page."
            )
        elif exc.retryable:
            problems.append(f"Could not reach Twilio to check {what}: {exc}. Try again.")
        else:
            problems.append(f"Could not check {what}: Twilio said {exc}.")
    return None
