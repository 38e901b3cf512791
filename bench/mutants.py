"""bench/mutants: does the suite catch a wrong change to a critical rule?

Each mutant replaces one exact snippet of product code with a plausible mistake (the kind a
tired engineer or a careless refactor makes), runs the tests that guard that rule, and puts
the file back. A mutant is *caught* when those tests fail, *survived* when they pass (the rule
has no test that can fail), and *stale* when its snippet is no longer in the file (the list
needs updating, which also fails the run). Not run in CI: it runs the guarding tests once per
mutant, about 5-10 minutes here.

Run: `.venv/bin/python bench/mutants.py [--only NAME ...] [--list]`; exit 0 only if every
mutant is caught. The working tree must have no uncommitted change in a mutated file.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository
    old: str  # exact text, found exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest node ids or files that must catch it
    why: str = ""


MUTANTS: list[Mutant] = []  # filled in below, one block per rule


def _git_dirty(path: str) -> bool:
    out = subprocess.run(["git", "status", "--porcelain", "--", path], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return bool(out.strip())


def run_one(mutant: Mutant, python: str) -> tuple[str, float]:
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return "stale", 0.0
    started = time.monotonic()
    path.write_text(original.replace(mutant.old, mutant.new))
    try:
        result = subprocess.run(
            [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--timeout=300",
             *mutant.tests], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original)
    verdict = "survived" if result.returncode == 0 else "caught"
    if result.returncode not in (0, 1):  # 2-5: interrupted, internal error, usage, no tests
        verdict = f"error (pytest exit {result.returncode})"
    return verdict, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="mutant names to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list or not chosen:
        for m in MUTANTS:
            print(f"{m.name:28} {m.path}  ({m.why})")
        return 0 if chosen else 2
    dirty = sorted({m.path for m in chosen if _git_dirty(m.path)})
    if dirty:
        print("refusing: uncommitted changes in " + ", ".join(dirty), file=sys.stderr)
        return 2
    # Ctrl-C must not leave a mutant behind: run_one restores the file in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    python = str(ROOT / ".venv" / "bin" / "python")
    print(f"{'mutant':28} {'verdict':10} {'seconds':>8}  rule")
    results = []
    total_started = time.monotonic()
    for mutant in chosen:
        verdict, seconds = run_one(mutant, python)
        results.append(verdict)
        print(f"{mutant.name:28} {verdict:10} {seconds:8.1f}  {mutant.why}", flush=True)
    caught = results.count("caught")
    print(f"\n{caught} of {len(results)} caught in {time.monotonic() - total_started:.0f} s "
          f"(baseline: every mutant caught)")
    return 0 if caught == len(results) else 1


def mutant(name: str, path: str, old: str, new: str, *tests: str, why: str = "") -> None:
    MUTANTS.append(Mutant(name, path, old, new, tests, why))


# --------------------------------------------------------------------------- the curated list
# (filled in after the "One home per rule" layout landed; each names the tests that guard it)


if __name__ == "__main__":
    sys.exit(main())
