"""Start-up as the installer check measures it, from the venv: launch to main window shown.

    .venv/bin/python -m bench.startup_bench                     # this tree, median of 5
    .venv/bin/python -m bench.startup_bench --against 3653fd3   # and that commit, side by side
    .venv/bin/python -m bench.startup_bench --runs 9 --against main

What ``bash scripts/ci-installers`` does with the installed bundle, without building it:
``frontdesk demo --measure-startup`` offscreen (``QT_QPA_PLATFORM=offscreen``), each run a
new process, reading the ``startup_ms`` line desktop/startup_probe.py prints (ms from
the process's start to the main window's first frame) and its ``cpu_ms`` line (CPU the
process used by then: on a machine other work keeps busy, wall time swings by seconds
while CPU time holds; the column to compare builds by there). Like the bundle, which ships
.pyc files, each tree is byte-compiled first (``compileall``): the venv sets
PYTHONDONTWRITEBYTECODE=1, so without it every run would include compiling the app.

Each tree gets its own data dir; its first run creates and migrates the demo workspace
and is reported apart ("first"); the median is over the ``--runs`` reopening runs after
it. With ``--against REV`` that commit's tree (``git archive REV``, in a temporary
directory, on this venv: PYTHONPATH puts it ahead of the editable install; with this
tree's desktop/startup_probe.py, so both print the CPU line) runs in turn with this one,
run by run, so a busy machine slows both alike.

Figures go to stdout and bench/out/startup.txt.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "startup.txt"
PACKAGES = ("desktop", "ui", "services", "resources")
LINE = re.compile(r"startup_ms=(\d+)")
CPU = re.compile(r"cpu_ms=(\d+)")
LAUNCH = "import sys; from desktop.cli import main; sys.exit(main())"  # the entry point


@dataclass
class Tree:
    """A source tree to launch from, and what its runs measured."""

    label: str
    path: Path
    data_dir: Path
    first: tuple[int, int] | None = None
    runs: list[int] = field(default_factory=list)
    cpu: list[int] = field(default_factory=list)

    def launch(self, timeout: float) -> tuple[int, int]:
        """One launch: (ms to the window shown, CPU ms used by then; 0 when not printed)."""
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONPATH": str(self.path),
        }
        env.pop("FRONTDESK_MEASURE_STARTUP", None)  # the flag turns it on, as in CI
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                LAUNCH,
                "demo",
                "--data-dir",
                str(self.data_dir),
                "--measure-startup",
            ],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        found = LINE.search(out.stdout)
        if found is None:
            sys.stderr.write(out.stderr[-4000:])
            raise SystemExit(f"startup_bench: {self.label} printed no startup_ms")
        cpu = CPU.search(out.stdout)
        return int(found.group(1)), int(cpu.group(1)) if cpu else 0

    def record(self, timeout: float) -> None:
        wall, cpu = self.launch(timeout)
        self.runs.append(wall)
        self.cpu.append(cpu)


def compile_tree(path: Path) -> None:
    """Byte-compile the app's packages in ``path`` (the bundle ships .pyc)."""
    for package in PACKAGES:
        if (path / package).is_dir():
            compileall.compile_dir(str(path / package), quiet=1, workers=1)


def git(*args: str, check: bool = False) -> str:
    """``git args`` in this repository: its standard output, stripped."""
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=check
    ).stdout.strip()


def extract(rev: str, into: Path) -> str:
    """``git archive rev`` unpacked into ``into``; returns the commit's short hash."""
    short = git("rev-parse", "--short", rev, check=True)
    into.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", rev], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"startup_bench: git archive {rev} failed")
    return short


def head_label() -> str:
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"this tree ({head}{' + changes' if dirty else ''})"


def report(trees: list[Tree], runs: int) -> str:
    lines = [
        f"startup_bench {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
        f"launch to main window shown, `frontdesk demo` offscreen from the venv "
        f"(byte-compiled), median of {runs} reopening runs; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end",
        f"{'tree':<34} {'median':>8} {'cpu':>8} {'min':>6} {'max':>6} {'first':>7}  runs (ms)",
    ]
    for tree in trees:
        first = tree.first[0] if tree.first else 0
        lines.append(
            f"{tree.label:<34} {statistics.median(tree.runs):>6.0f}ms"
            f" {statistics.median(tree.cpu):>6.0f}ms {min(tree.runs):>6} {max(tree.runs):>6}"
            f" {first:>7}  {' '.join(map(str, tree.runs))}"
        )
    if len(trees) == 2:
        for what, values in (("wall", [t.runs for t in trees]), ("cpu", [t.cpu for t in trees])):
            now, then = (statistics.median(v) for v in values)
            if then:
                lines.append(
                    f"{what}: {now - then:+.0f} ms ({(now - then) / then:+.0%}) against "
                    f"{trees[1].label}"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="reopening runs per tree")
    parser.add_argument("--against", metavar="REV", help="also measure this commit")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")
    with tempfile.TemporaryDirectory(prefix="fd-startup-") as tmp:
        work = Path(tmp)
        compile_tree(ROOT)
        trees = [Tree(head_label(), ROOT, work / "data-head")]
        if args.against:
            path = work / "against"
            short = extract(args.against, path)
            # Measured with this tree's probe (older ones print no CPU line).
            shutil.copy2(ROOT / "desktop" / "startup_probe.py", path / "desktop")
            compile_tree(path)
            trees.append(Tree(f"{args.against} ({short})", path, work / "data-against"))
        for tree in trees:
            tree.first = tree.launch(args.timeout)
        for _ in range(args.runs):
            for tree in trees:
                tree.record(args.timeout)
        text = report(trees, args.runs)
        shutil.rmtree(work / "against", ignore_errors=True)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
