"""CredentialStore: secrets in the OS keyring, environment overrides, no file fallback."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from services.credentials import (
    CredentialsError,
    CredentialStore,
    KeyringUnavailable,
    TwilioCredentials,
    mask_sid,
    validate_account_sid,
    validate_api_key_sid,
)

SID = "AC" + "0123456789abcdef" * 2
OTHER_SID = "AC" + "f" * 32
KEY_SID = "SK" + "a1b2c3d4" * 4
TOKEN = "5ecre7t0ken5ecre7t0ken5ecre7t0k"
KEY_SECRET = "KeySecretValue0987654321zyxwvuts"
NGROK_TOKEN = "2abcNgrokAuthTokenXYZ_0123456789"

REPO_ROOT = Path(__file__).resolve().parents[2]

# keyring's own backends are untyped: build them once, typed.
FAIL: KeyringBackend = fail.Keyring()  # type: ignore[no-untyped-call]
NULL: KeyringBackend = null.Keyring()  # type: ignore[no-untyped-call]


def make_chainer() -> KeyringBackend:
    return chainer.ChainerBackend()  # type: ignore[no-untyped-call]


class MemoryKeyring(KeyringBackend):
    """An in-memory secure-looking backend (priority 1), counting writes."""

    priority: float = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.writes += 1
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class LowPriorityKeyring(MemoryKeyring):
    priority = 0.5


class PlaintextLikeKeyring(MemoryKeyring):
    """Pretends to be keyrings.alt's PlaintextKeyring (which writes a file)."""

    priority = 5


PlaintextLikeKeyring.__module__ = "keyrings.alt.file"


class BrokenPriorityKeyring(MemoryKeyring):
    @property
    def priority(self) -> float:  # type: ignore[override]
        raise RuntimeError("The Secret Service daemon is neither running nor activatable")


class RefusingKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"refused to store {password!r}")


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


# Test backends must not become candidates for keyring's own auto-selection.
for _cls in (
    MemoryKeyring,
    LowPriorityKeyring,
    PlaintextLikeKeyring,
    BrokenPriorityKeyring,
    RefusingKeyring,
    LockedKeyring,
):
    KeyringBackend._classes.discard(_cls)


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, XDG dirs and cwd all under tmp_path, so any stray file write is visible."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def store_with(backend: KeyringBackend, **env: str) -> CredentialStore:
    return CredentialStore(service="frontdesk-test", keyring_backend=backend, environ=env)


# -- validation and masking ---------------------------------------------------------------


def test_validate_account_sid() -> None:
    assert validate_account_sid(f"  {SID} ") == SID
    for bad in ("", "AC123", "SK" + "0" * 32, "AC" + "g" * 32, SID + "0"):
        with pytest.raises(CredentialsError, match="'AC' followed by 32 hexadecimal"):
            validate_account_sid(bad)
    assert issubclass(CredentialsError, ValueError)


def test_validate_api_key_sid() -> None:
    assert validate_api_key_sid(KEY_SID) == KEY_SID
    for bad in ("", SID, "SK" + "z" * 32):
        with pytest.raises(CredentialsError, match="'SK' followed by 32 hexadecimal"):
            validate_api_key_sid(bad)


def test_repr_masks_secrets() -> None:
    creds = TwilioCredentials(SID, TOKEN, KEY_SID, KEY_SECRET)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert TOKEN not in text
        assert KEY_SECRET not in text
        assert SID not in text
        assert "AC…cdef" in text
        assert "***" in text
    assert mask_sid(SID) == "AC…cdef"


def test_auth_ok() -> None:
    assert TwilioCredentials(SID, TOKEN).auth_ok
    assert TwilioCredentials(SID, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET).auth_ok
    assert not TwilioCredentials(SID).auth_ok
    assert not TwilioCredentials(SID, api_key_sid=KEY_SID).auth_ok
    assert not TwilioCredentials(SID, auth_token="").auth_ok


# -- keyring round trips -------------------------------------------------------------------


def test_twilio_round_trip_and_clear() -> None:
    backend = MemoryKeyring()
    store = store_with(backend)
    assert store.load_twilio() is None
    assert store.source() == "none"

    store.save_twilio(TwilioCredentials(SID, TOKEN))
    assert store.load_twilio() == TwilioCredentials(SID, TOKEN)
    assert store.source() == "keyring"
    assert all(service == "frontdesk-test" for service, _ in backend.store)

    # A second store on the same backend sees it (nothing cached in the instance).
    assert store_with(backend).load_twilio() == TwilioCredentials(SID, TOKEN)

    store.clear_twilio()
    assert store.load_twilio() is None
    store.clear_twilio()  # clearing twice is fine


def test_api_key_round_trip() -> None:
    store = store_with(MemoryKeyring())
    creds = TwilioCredentials(SID, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET)
    store.save_twilio(creds)
    assert store.load_twilio() == creds


def test_ngrok_round_trip_and_env_override() -> None:
    backend = MemoryKeyring()
    store = store_with(backend)
    assert store.load_ngrok_token() is None
    store.save_ngrok_token(f" {NGROK_TOKEN}\n")
    assert store.load_ngrok_token() == NGROK_TOKEN
    assert store_with(backend, NGROK_AUTHTOKEN="from-env").load_ngrok_token() == "from-env"
    store.clear_ngrok_token()
    assert store.load_ngrok_token() is None
    with pytest.raises(CredentialsError):
        store.save_ngrok_token("   ")


def test_save_validates() -> None:
    backend = MemoryKeyring()
    store = store_with(backend)
    with pytest.raises(CredentialsError, match="Account SID"):
        store.save_twilio(TwilioCredentials("AC123", TOKEN))
    with pytest.raises(CredentialsError, match="auth token"):
        store.save_twilio(TwilioCredentials(SID))
    with pytest.raises(CredentialsError, match="secret"):
        store.save_twilio(TwilioCredentials(SID, api_key_sid=KEY_SID))
    with pytest.raises(CredentialsError, match="API Key SID"):
        store.save_twilio(TwilioCredentials(SID, api_key_secret=KEY_SECRET))
    with pytest.raises(CredentialsError, match="API Key SID must be"):
        store.save_twilio(TwilioCredentials(SID, api_key_sid="SKnope", api_key_secret="x"))
    with pytest.raises(CredentialsError, match="spaces"):
        store.save_twilio(TwilioCredentials(SID, "to ken"))
    assert backend.writes == 0


# -- environment overrides -----------------------------------------------------------------


def test_environment_overrides_keyring() -> None:
    backend = MemoryKeyring()
    store_with(backend).save_twilio(TwilioCredentials(SID, TOKEN))

    env_store = store_with(backend, TWILIO_ACCOUNT_SID=OTHER_SID, TWILIO_AUTH_TOKEN="envtoken")
    assert env_store.load_twilio() == TwilioCredentials(OTHER_SID, "envtoken")
    assert env_store.source() == "environment"

    # The token alone overrides the stored token of the stored account.
    token_only = store_with(backend, TWILIO_AUTH_TOKEN="envtoken")
    assert token_only.load_twilio() == TwilioCredentials(SID, "envtoken")
    assert token_only.source() == "environment"

    # A different SID alone must not borrow the stored account's token.
    sid_only = store_with(backend, TWILIO_ACCOUNT_SID=OTHER_SID)
    creds = sid_only.load_twilio()
    assert creds == TwilioCredentials(OTHER_SID)
    assert creds is not None and not creds.auth_ok

    # The same SID in the environment keeps the stored token.
    same_sid = store_with(backend, TWILIO_ACCOUNT_SID=SID)
    assert same_sid.load_twilio() == TwilioCredentials(SID, TOKEN)

    # Blank variables count as unset.
    blank = store_with(backend, TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="  ")
    assert blank.source() == "keyring"


def test_environment_api_key_pair() -> None:
    store = store_with(
        MemoryKeyring(),
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_API_KEY=KEY_SID,
        TWILIO_API_SECRET=KEY_SECRET,
    )
    assert store.load_twilio() == TwilioCredentials(
        SID, api_key_sid=KEY_SID, api_key_secret=KEY_SECRET
    )


def test_complete_environment_never_touches_keyring() -> None:
    store = store_with(LockedKeyring(), TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN)
    assert store.load_twilio() == TwilioCredentials(SID, TOKEN)


def test_bad_environment_sid_is_a_clear_error() -> None:
    store = store_with(MemoryKeyring(), TWILIO_ACCOUNT_SID="AC-nope", TWILIO_AUTH_TOKEN=TOKEN)
    with pytest.raises(CredentialsError, match="TWILIO_ACCOUNT_SID"):
        store.load_twilio()
    assert store.source() == "environment"


def test_environ_and_backend_resolved_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    backend = MemoryKeyring()

    def fake_get_keyring() -> KeyringBackend:
        calls.append("get_keyring")
        return backend

    monkeypatch.setattr(keyring, "get_keyring", fake_get_keyring)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    store = CredentialStore(service="frontdesk-test")
    assert calls == []

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    assert store.load_twilio() == TwilioCredentials(SID, TOKEN)
    assert calls == []  # complete environment: keyring not needed

    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    assert store.keyring_status().usable
    assert calls == ["get_keyring"]


# -- no usable keyring ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        (FAIL, "keyring.backends.fail.Keyring"),
        (NULL, "keyring.backends.null.Keyring"),
        (LowPriorityKeyring(), "LowPriorityKeyring"),
        (PlaintextLikeKeyring(), "keyrings.alt.file.PlaintextLikeKeyring"),
        (BrokenPriorityKeyring(), "BrokenPriorityKeyring"),
    ],
)
def test_unusable_backend_refuses_to_save(
    backend: KeyringBackend, name: str, isolated_home: Path
) -> None:
    store = store_with(backend)
    status = store.keyring_status()
    assert not status.usable
    assert name in status.backend_name

    with pytest.raises(KeyringUnavailable) as err:
        store.save_twilio(TwilioCredentials(SID, TOKEN))
    message = str(err.value)
    assert message.startswith("No secure keyring is available on this machine (")
    assert name in message
    assert "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment instead" in message
    assert "GNOME Keyring / KWallet / macOS Keychain / Windows Credential Manager" in message
    assert TOKEN not in message

    with pytest.raises(KeyringUnavailable, match="NGROK_AUTHTOKEN"):
        store.save_ngrok_token(NGROK_TOKEN)

    # Nothing stored anywhere: not in the backend, not in any file.
    if isinstance(backend, MemoryKeyring):
        assert backend.writes == 0
    assert all_files(isolated_home) == []
    assert store.load_twilio() is None
    assert store.load_ngrok_token() is None
    assert store.source() == "none"
    store.clear_twilio()  # nothing to clear: no error


def test_no_keyring_error_from_keyring_module(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    def no_keyring() -> KeyringBackend:
        raise keyring.errors.NoKeyringError("No recommended backend was available.")

    monkeypatch.setattr(keyring, "get_keyring", no_keyring)
    store = CredentialStore(service="frontdesk-test", environ={})
    assert not store.keyring_status().usable
    with pytest.raises(KeyringUnavailable, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        store.save_twilio(TwilioCredentials(SID, TOKEN))
    assert store.load_twilio() is None
    assert all_files(isolated_home) == []


def test_chainer_never_writes_to_an_insecure_child(monkeypatch: pytest.MonkeyPatch) -> None:
    plaintext, secure = PlaintextLikeKeyring(), MemoryKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plaintext, secure])
    store = store_with(make_chainer())
    assert store.keyring_status().usable
    store.save_twilio(TwilioCredentials(SID, TOKEN))
    assert plaintext.writes == 0
    assert secure.writes == 1

    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plaintext, FAIL])
    store = store_with(make_chainer())
    assert not store.keyring_status().usable
    with pytest.raises(KeyringUnavailable, match=r"keyrings\.alt\.file\.PlaintextLikeKeyring"):
        store.save_twilio(TwilioCredentials(SID, TOKEN))
    assert plaintext.writes == 0


def test_refusing_backend_error_hides_secret() -> None:
    store = store_with(RefusingKeyring())
    with pytest.raises(KeyringUnavailable) as err:
        store.save_twilio(TwilioCredentials(SID, TOKEN))
    assert "PasswordSetError" in str(err.value)
    assert TOKEN not in str(err.value)


def test_locked_keyring_is_reported() -> None:
    store = store_with(LockedKeyring())
    with pytest.raises(KeyringUnavailable, match="could not be read"):
        store.load_twilio()
    assert store.source() == "none"


# -- secrets never leak --------------------------------------------------------------------


def test_secrets_never_reach_files_or_logs(
    isolated_home: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = isolated_home / "data"
    data_dir.mkdir()
    caplog.set_level(logging.DEBUG)

    backend = MemoryKeyring()
    store = store_with(backend)
    store.save_twilio(TwilioCredentials(SID, TOKEN, KEY_SID, KEY_SECRET))
    store.save_ngrok_token(NGROK_TOKEN)
    loaded = store.load_twilio()
    logging.getLogger("test").debug("loaded %s / %r", loaded, loaded)
    store.load_ngrok_token()
    store.source()
    store.keyring_status()
    store.clear_twilio()
    store.clear_ngrok_token()
    with pytest.raises(KeyringUnavailable):
        store_with(FAIL).save_twilio(TwilioCredentials(SID, TOKEN))
    with pytest.raises(KeyringUnavailable):
        store_with(RefusingKeyring()).save_twilio(TwilioCredentials(SID, TOKEN))

    assert "saved Twilio credentials for AC…cdef" in caplog.text
    out = capsys.readouterr()
    for secret in (TOKEN, KEY_SECRET, NGROK_TOKEN):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
        assert secret not in out.out + out.err
        for path in all_files(isolated_home):
            assert secret.encode() not in path.read_bytes(), path


# -- a real Secret Service (gnome-keyring on a private D-Bus session) -------------------------


_SECRET_SERVICE_SCRIPT = textwrap.dedent(
    f"""
    import sys
    import keyring.backends.SecretService
    from services.credentials import CredentialStore, TwilioCredentials

    store = CredentialStore(
        service="frontdesk-test",
        keyring_backend=keyring.backends.SecretService.Keyring(),
        environ={{}},
    )
    status = store.keyring_status()
    assert status.usable, status
    creds = TwilioCredentials({SID!r}, {TOKEN!r})
    store.save_twilio(creds)
    store.save_ngrok_token({NGROK_TOKEN!r})
    fresh = CredentialStore(
        service="frontdesk-test",
        keyring_backend=keyring.backends.SecretService.Keyring(),
        environ={{}},
    )
    assert fresh.load_twilio() == creds, fresh.load_twilio()
    assert fresh.load_ngrok_token() == {NGROK_TOKEN!r}
    assert fresh.source() == "keyring"
    fresh.clear_twilio()
    assert fresh.load_twilio() is None
    print("ok")
    """
)


@pytest.mark.timeout(60)
def test_real_secret_service_round_trip(tmp_path: Path) -> None:
    missing = [
        tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(tool)
    ]
    if missing:
        reason = (
            f"{' and '.join(missing)} not installed (apt-get install dbus gnome-keyring); "
            "cannot run a real Secret Service"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)

    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "secret_service_check.py"
    script.write_text(_SECRET_SERVICE_SCRIPT)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": str(REPO_ROOT),
        "LANG": "C.UTF-8",
    }
    inner = (
        "echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null "
        f'&& exec "{sys.executable}" "{script}"'
    )
    result = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", inner],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"
    # gnome-keyring encrypts its store: the token is not readable in any file it wrote.
    keyrings = home / ".local" / "share" / "keyrings"
    assert keyrings.is_dir()
    for path in all_files(home):
        assert TOKEN.encode() not in path.read_bytes(), path
        assert NGROK_TOKEN.encode() not in path.read_bytes(), path
