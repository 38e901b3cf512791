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


def run_one(mutant: Mutant, python: str, lock: str | None = None) -> tuple[str, float]:
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return "stale", 0.0
    started = time.monotonic()
    path.write_text(original.replace(mutant.old, mutant.new))
    try:
        result = subprocess.run(
            [*(["flock", lock] if lock else []), python, "-m", "pytest", "-x", "-q", "-p",
             "no:cacheprovider", "--timeout=300", *mutant.tests],
            cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original)
    verdict = "survived" if result.returncode == 0 else "caught"
    if result.returncode not in (0, 1):  # 2-5: interrupted, internal error, usage, no tests
        verdict = f"error (pytest exit {result.returncode})"
    return verdict, time.monotonic() - started


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="mutant names to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--lock", help="run each mutant's tests under flock(1) on this file "
                        "(when other test runs share the machine's addresses)")
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
    # A kill must not leave a mutant behind: SIGTERM unwinds like Ctrl-C, through run_one's
    # `finally` that puts the file back.
    signal.signal(signal.SIGTERM, _interrupt)
    python = str(ROOT / ".venv" / "bin" / "python")
    print(f"{'mutant':28} {'verdict':10} {'seconds':>8}  rule")
    results = []
    total_started = time.monotonic()
    for mutant in chosen:
        verdict, seconds = run_one(mutant, python, args.lock)
        results.append(verdict)
        print(f"{mutant.name:28} {verdict:10} {seconds:8.1f}  {mutant.why}", flush=True)
    caught = results.count("caught")
    print(f"\n{caught} of {len(results)} caught in {time.monotonic() - total_started:.0f} s "
          f"(baseline: every mutant caught)")
    return 0 if caught == len(results) else 1


def mutant(name: str, path: str, old: str, new: str, *tests: str, why: str = "") -> None:
    MUTANTS.append(Mutant(name, path, old, new, tests, why))


# --------------------------------------------------------------------------- the curated list
# Each names the tests that guard the rule (the fastest that do).

mutant("rollback", "controller/jobs.py",
       "if not leftover.empty:", "if False and not leftover.empty:",
       "tests/integration/test_config_lab.py::"
       "test_a_change_the_device_shows_differently_is_rolled_back",
       why="a push the device reads back differently is rolled back")
mutant("push-drift", "controller/jobs.py",
       "                save_drift(session, device.name, DRIFT_AFTER_PUSH[result.status],",
       "                save_drift(session, device.name, \"in_sync\",",
       "tests/integration/test_config_lab.py::test_rejected_command_rolls_back_to_the_backup",
       why="a push records the drift state its verify step saw (a rollback leaves drifted)")
mutant("masking", "controller/backups.py",
       "        text = mask(config, secrets)\n", "        text = config\n",
       "tests/unit/test_configs.py::test_backups_commit_once_per_change_and_diff",
       "tests/unit/test_backups_masking.py",
       why="backups never hold a secret")
mutant("quota", "captive_portal/accounting.py",
       "elif row.quota_bytes is not None and", "elif False and row.quota_bytes is not None and",
       "tests/unit/test_portal_sessions.py::"
       "test_byte_quota_from_gateway_counters_ends_session_and_blocks_relogin",
       why="a session ends when its daily byte quota is used")
mutant("idle-refresh", "captive_portal/accounting.py",
       "                            row.last_activity_at = now\n", "",
       "tests/unit/test_portal_activity.py",
       why="traffic keeps an active citizen online past the idle timeout")
mutant("reconcile-expired", "captive_portal/reconcile.py",
       "PortalSession.ended_at.is_(None),\n"
       "                        PortalSession.expires_at > utcnow()",
       "PortalSession.ended_at.is_(None)",
       "tests/unit/test_portal_activity.py",
       why="the reconciler never lets an expired session back in")
mutant("overlap", "controller/inventory/checks.py",
       "other.overlaps(hs.client_subnet)", "hs.client_subnet.subnet_of(other)",
       "tests/unit/test_inventory.py",
       why="a later hotspot subnet covering an earlier one is reported")
mutant("rbac", "controller/auth.py",
       "return ROLES.index(role) >= ROLES.index(needed)", "return True",
       "tests/unit/test_web.py::test_roles_viewer_cannot_add_users",
       why="a viewer cannot do an admin's work")
mutant("csrf", "controller/auth.py",
       'return bool(given) and hmac.compare_digest(expected, given or "")', "return True",
       "tests/unit/test_web.py::"
       "test_form_without_csrf_token_is_rejected_and_changes_nothing",
       why="a state change without the session's CSRF token is refused")
mutant("p95", "controller/bandwidth/stats.py",
       "math.ceil(0.95 * len(ordered))", "round(0.95 * len(ordered))",
       "tests/unit/test_bandwidth_rollups.py::test_p95_takes_the_nearest_rank_rounded_up",
       "tests/unit/test_bandwidth_rollups.py::"
       "test_a_weeks_p95_figure_is_the_1916th_of_2016_samples",
       why="p95 is the nearest rank rounded up")
mutant("counter-wrap", "controller/bandwidth/counters.py",
       "else current + (1 << bits) - previous", "else current",
       "tests/unit/test_bandwidth_rollups.py",
       why="a 64/32-bit counter wrap is traffic, not a loss")
mutant("counter-reset", "controller/bandwidth/counters.py",
       "restarted = (current.uptime_s is not None",
       "restarted = False and (current.uptime_s is not None",
       "tests/unit/test_bandwidth_rollups.py", "tests/unit/test_exporters.py",
       why="a device restart is a counter reset, not a wrap")
mutant("child-subtraction", "controller/bandwidth/topology.py",
       "Tap(device.site, +1 if role == UPLINK else -1)", "Tap(device.site, +1)",
       "tests/unit/test_bandwidth_rollups.py::"
       "test_a_kecamatan_is_charged_its_own_traffic_not_its_villages",
       why="a kecamatan is not charged its villages' traffic")
mutant("names-after-reboot", "exporters/snmp.py",
       "            state.names_stale = True  # a reboot may renumber ifIndex\n", "",
       "tests/integration/test_snmp_faults.py::"
       "test_a_reboot_that_renumbers_interfaces_renames_them",
       why="interface names are re-read after an agent reboot")
mutant("portal-isolation", "controller/serve.py",
       "servers.append(_server(create_portal_app(ctx), ctx.settings.portal_listen",
       "servers.append(_server(create_admin_app(ctx), ctx.settings.portal_listen",
       "tests/integration/test_serve.py::"
       "test_serve_answers_on_both_listeners_and_stops_on_ctrl_c",
       why="the portal listener serves nothing of the admin side")
mutant("host-key-check", "controller/devices/base.py",
       # paramiko refuses a key that differs from a loaded one whatever the policy, so the
       # mistake that matters is not loading the pinned file and accepting what comes.
       '"ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,',
       '"ssh_strict": False, "system_host_keys": False, "alt_host_keys": False,',
       "tests/integration/test_host_keys.py::"
       "test_unknown_then_trusted_then_changed_then_replaced",
       why="a changed SSH host key refuses the connection")
mutant("host-key-pinned-first", "controller/devices/host_keys.py",
       "    if not keys:\n        raise HostKeyUnknown(device, host_entry(host, port))\n    only",
       "    only",
       "tests/unit/test_host_keys.py",
       why="an unknown device is refused before any connection")
mutant("atomic-login-count", "controller/auth.py",
       "else_=User.failed_logins + 1)",
       "else_=session.get(User, user_id).failed_logins + 1)",  # read, then write: races
       "tests/unit/test_store.py::"
       "test_parallel_wrong_passwords_each_count_and_lock_the_account",
       why="parallel wrong passwords each count")
mutant("atomic-otp-attempts", "captive_portal/otp.py",
       "update(OtpCode).where(OtpCode.id == row.id, OtpCode.attempts < max_attempts)",
       "update(OtpCode).where(OtpCode.id == row.id)",
       "tests/unit/test_portal_otp_sms.py::"
       "test_parallel_guesses_get_no_more_checks_than_the_limit",
       why="parallel code guesses get no more checks than the limit")


if __name__ == "__main__":
    sys.exit(main())
