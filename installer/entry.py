"""Entry point of the packaged app (PyInstaller runs this file as ``__main__``).

The bundle's ``frontdesk`` executable behaves exactly like the ``frontdesk`` console
script that pyproject installs: it calls :func:`desktop.cli.main` with the arguments.
"""

from __future__ import annotations

import multiprocessing
import sys


def run() -> int:
    if getattr(sys, "frozen", False):
        # Alembic imports the migrations from source files inside the install dir: never
        # leave __pycache__ there (read-only for users; and the uninstaller must find
        # exactly the files it installed).
        sys.dont_write_bytecode = True
    multiprocessing.freeze_support()  # no-op unless a frozen child process starts
    from desktop import startup_probe
    from desktop.cli import main

    # The hidden --measure-startup flag (scripts/ci-installers) turns the probe on.
    return main(startup_probe.strip_flag(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(run())
