"""The app shell: command line, composition root, qasync loop, tray and windows."""

VERSION = "0.1.0"  # kept equal to pyproject's version by tests/desktop/test_cli.py
