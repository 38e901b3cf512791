"""Run diff, push, backup and drift over many devices: bounded concurrency, one result each.

netmiko blocks, so each device's work runs in a bounded thread pool, never on the event loop.
A push takes the device's lock (threads and processes), backs up, applies, re-fetches and
checks the diff is now empty, saves; on any device error it restores the backup and reports
the device's own text. Every push writes one audit_log row per device.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.auth import role_at_least
from controller.backups import RAW_BACKUPS_ROLE, BackupError, BackupRepo, mask
from controller.configs import (
    DEFAULT_TEMPLATES_DIR,
    RenderError,
    device_secret_values,
    render_intended_config,
)
from controller.devices import PLATFORMS, DeviceError, IntentError, Plan, build_target
from controller.devices.host_keys import known_hosts_path
from controller.inventory import Device, Inventory
from controller.secrets import SecretsError, SecretStore
from controller.store.audit import record
from controller.store.db import Store
from controller.store.drift import save_drift

log = logging.getLogger("simpul.jobs")

UNCHANGED, CHANGED, FAILED, ROLLED_BACK = "unchanged", "changed", "failed", "rolled_back"
# What a push's verify step says of drift: pushed or already equal means in sync; rolled back
# means the device is back on its backup, which differs from the intent by the plan.
DRIFT_AFTER_PUSH = {CHANGED: "in_sync", UNCHANGED: "in_sync", ROLLED_BACK: "drifted",
                    FAILED: "error"}


@dataclass
class DeviceResult:
    device: str
    status: str  # unchanged | changed | failed | rolled_back
    diff: str = ""
    error: str | None = None
    # The backup's record id (`Simpul-Record:` in the message of the commit it becomes).
    commit: str | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "status": self.status, "diff": self.diff,
                "error": self.error}


class VerifyError(Exception):
    """The device accepted every command but still differs from the intent."""


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextmanager
def device_lock(lock_dir: Path, device: str) -> Iterator[None]:
    """Exclusive access to one device across threads and processes (CLI and serve)."""
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(device, threading.Lock())
    lock_dir.mkdir(parents=True, exist_ok=True)
    with lock, open(lock_dir / f"{device}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only (a running config holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.replace("\r", "")


class ConfigJobs:
    """The config engine's operations on devices, shared by the CLI, the API and `serve`."""

    def __init__(self, inventory: Inventory, secrets: SecretStore, data_dir: Path,
                 store: Store | None = None, templates_dir: Path = DEFAULT_TEMPLATES_DIR,
                 actor: str = "system", concurrency: int = 20):
        self.inventory = inventory
        self.secrets = secrets
        self.store = store
        self.templates_dir = templates_dir
        self.actor = actor
        self.concurrency = concurrency
        self.backups = BackupRepo(data_dir / "backups")
        self.lock_dir = data_dir / "locks"
        self.known_hosts = known_hosts_path(data_dir)

    # ------------------------------------------------------------------ helpers

    def _secret_values(self, device: Device) -> list[str]:
        return device_secret_values(self.inventory, device, self.secrets)

    def _mask(self, device: Device, text: str) -> str:
        return mask(text, self._secret_values(device))

    def backup_diff(self, device: Device, old: str, new: str, role: str) -> str:
        """A backup diff as `role` may see it: operators and admins git's diff of the stored
        text, viewers a diff of both versions masked again with today's rules."""
        if role_at_least(role, RAW_BACKUPS_ROLE):
            return self.backups.diff(device.name, old, new)
        return self.backups.masked_diff(device.name, old, new, self._secret_values(device))

    def render(self, device: Device) -> str:
        return render_intended_config(self.inventory, device, self.secrets, self.templates_dir)

    def _session(self, device: Device) -> tuple[Any, Any]:
        platform = PLATFORMS[device.platform]
        conn = platform.connect(build_target(self.inventory, device, self.secrets,
                                             known_hosts=self.known_hosts))
        return platform, conn

    def _plan(self, platform: Any, device: Device, intent: str, running: str) -> Plan:
        """The platform's plan; one that keeps a pushed record negates only recorded lines."""
        if getattr(platform, "keeps_pushed_record", False):
            return platform.plan(intent, running, pushed=self.backups.pushed(device.name))
        return platform.plan(intent, running)

    def _record_pushed(self, device: Device, platform: Any, intent: str) -> None:
        """After a successful push: what Simpul now owns on the device, beside its backup."""
        if getattr(platform, "keeps_pushed_record", False):
            self.backups.save_pushed(device.name, platform.pushed_record(intent), self.actor,
                                     self._secret_values(device))

    def _failed(self, device: Device, exc: BaseException, diff: str = "") -> DeviceResult:
        return DeviceResult(device.name, FAILED, self._mask(device, diff),
                            self._mask(device, _error_text(exc)))

    # ------------------------------------------------------------------ operations

    def diff_one(self, device: Device) -> DeviceResult:
        try:
            intent = self.render(device)
            platform, conn = self._session(device)
            try:
                plan = self._plan(platform, device, intent, platform.fetch(conn, intent))
            finally:
                conn.disconnect()
        except Exception as exc:  # noqa: BLE001 - one device's failure is its result
            return self._failed(device, exc)
        status = UNCHANGED if plan.empty else CHANGED
        return DeviceResult(device.name, status, self._mask(device, plan.diff))

    def backup_one(self, device: Device) -> DeviceResult:
        try:
            intent = self.render(device) if device.platform == "linux" else ""
            platform, conn = self._session(device)
            try:
                running = platform.fetch(conn, intent)
            finally:
                conn.disconnect()
            commit = self.backups.save(device.name, running, "backup", self.actor,
                                       self._secret_values(device))
        except Exception as exc:  # noqa: BLE001
            return self._failed(device, exc)
        return DeviceResult(device.name, CHANGED if commit else UNCHANGED, commit=commit)

    def push_one(self, device: Device) -> DeviceResult:
        try:
            intent = self.render(device)
        except (RenderError, SecretsError) as exc:
            result = self._failed(device, exc)
            self._audit(device, result)
            return result
        # The backups' commits follow the device (at the end of this push, or of the batch
        # run() holds): each save before them is a record, fsynced before the device changes.
        with self.backups.batch():
            with device_lock(self.lock_dir, device.name):
                result = self._push_locked(device, intent)
            self._audit(device, result)
        log.info("config push %s: %s", device.name, result.status)
        return result

    def _push_locked(self, device: Device, intent: str) -> DeviceResult:
        try:
            platform, conn = self._session(device)
        except Exception as exc:  # noqa: BLE001
            return self._failed(device, exc)
        plan = Plan("", [])
        journal = self._journal(device)
        try:
            backup = platform.fetch(conn, intent)
            # A push cut off mid-apply (its process died) left its backup here: resume from
            # the device as it is, and roll back to the config it had before that push.
            resumed = journal.read_text(encoding="utf-8") if journal.exists() else None
            self.backups.save(device.name, backup, "before push", self.actor,
                              self._secret_values(device))
            plan = self._plan(platform, device, intent, backup)
            if plan.empty:
                if resumed is not None:  # applied and verified, perhaps not saved
                    platform.save(conn)
                    journal.unlink()
                self._record_pushed(device, platform, intent)
                return DeviceResult(device.name, UNCHANGED)
            if resumed is not None:
                log.warning("config push %s: resuming a push cut off mid-apply", device.name)
                backup = resumed
            else:
                _write_private(journal, backup)
            try:
                after = self._apply_and_fetch(platform, conn, plan, intent)
                leftover = self._plan(platform, device, intent, after)
                if not leftover.empty:
                    raise VerifyError("the device still differs from the intent after the "
                                      "push:\n" + leftover.diff)
                platform.save(conn)
            except Exception as exc:  # noqa: BLE001 - refused, unverified, or the session died
                rolled = self._roll_back(device, platform, conn, backup, plan, exc)
                if rolled.status == ROLLED_BACK:
                    journal.unlink(missing_ok=True)
                return rolled
            journal.unlink(missing_ok=True)
            commit = self.backups.save(device.name, after, "push", self.actor,
                                       self._secret_values(device))
            self._record_pushed(device, platform, intent)
            return DeviceResult(device.name, CHANGED, self._mask(device, plan.diff),
                                commit=commit)
        except (IntentError, BackupError) as exc:
            return self._failed(device, exc, plan.diff)
        except Exception as exc:  # noqa: BLE001 - connection lost, timeouts
            return self._failed(device, exc, plan.diff)
        finally:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001
                pass

    @staticmethod
    def _apply_and_fetch(platform: Any, conn: Any, plan: Plan, intent: str) -> str:
        """Apply the plan and read the device back for the verify step, in fewer round trips
        where the platform can (RouterOS: the export on the last command line)."""
        both = getattr(platform, "apply_and_fetch", None)
        if both is not None:
            return str(both(conn, plan, intent))
        platform.apply(conn, plan)
        return str(platform.fetch(conn, intent))

    def _journal(self, device: Device) -> Path:
        """Where a push keeps the device's config before it while applying (owner only)."""
        return self.lock_dir / f"{device.name}.before"

    def _roll_back(self, device: Device, platform: Any, conn: Any, backup: str, plan: Plan,
                   cause: BaseException) -> DeviceResult:
        """Bring the device back to `backup`; reconnect once if the session itself failed."""
        error = _error_text(cause)
        problem: BaseException | None = None
        for attempt in range(2):
            session = conn
            try:
                if attempt:
                    session = platform.connect(build_target(
                        self.inventory, device, self.secrets, known_hosts=self.known_hosts))
                intent = self.render(device)
                undo = platform.rollback_plan(backup, platform.fetch(session, intent))
                platform.apply(session, undo)
                if not platform.rollback_plan(backup, platform.fetch(session, intent)).empty:
                    raise VerifyError("the device still differs from its backup")
                platform.save(session)
                return DeviceResult(device.name, ROLLED_BACK, self._mask(device, plan.diff),
                                    self._mask(device, error))
            except (DeviceError, VerifyError) as exc:
                problem = exc
                break  # the device answers but refuses: reconnecting will not help
            except Exception as exc:  # noqa: BLE001 - lost session: try a new one
                problem = exc
            finally:
                if attempt and session is not conn:
                    try:
                        session.disconnect()
                    except Exception:  # noqa: BLE001
                        pass
        return DeviceResult(device.name, FAILED, self._mask(device, plan.diff),
                            self._mask(device, f"{error}\nrollback failed: "
                                               f"{_error_text(problem or cause)}"))

    def _audit(self, device: Device, result: DeviceResult) -> None:
        """Audit the push and record the drift state its verify step saw, in one transaction:
        a device just pushed is in sync, one rolled back differs by the plan (issue #18)."""
        if self.store is None:
            return
        try:
            with self.store.session() as session:
                record(session, self.actor, "config.push", target=device.name,
                       result=result.status, diff=result.diff or None,
                       detail={"error": result.error, "backup": result.commit,
                               "platform": device.platform, "site": device.site})
                save_drift(session, device.name, DRIFT_AFTER_PUSH[result.status],
                           result.diff if result.status == ROLLED_BACK else None,
                           result.error)
        except Exception as exc:  # noqa: BLE001 - the push result stands; say so loudly
            log.error("config push %s: audit log not written: %s", device.name, exc)

    # ------------------------------------------------------------------ many devices

    async def run(self, operation: Callable[[Device], DeviceResult], devices: list[Device],
                  on_result: Callable[[DeviceResult], None] | None = None
                  ) -> list[DeviceResult]:
        """Run `operation` on every device in a bounded thread pool; results in input order."""
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._warm, {d.platform for d in devices})
        try:
            with self.backups.batch(commit=False):
                results = await self._run(loop, operation, devices, on_result)
        finally:  # the batch's backups, committed together and off the event loop
            await asyncio.to_thread(self.backups.commit_logged)
        for result in results:  # a save's record id becomes its commit once committed
            if result.commit is not None:
                result.commit = self.backups.committed.get(result.commit, result.commit)
        return results

    @staticmethod
    def _warm(platforms: set[str]) -> None:
        """Let each platform build what its devices share (a model) before the threads start."""
        for name in sorted(platforms):
            warm = getattr(PLATFORMS.get(name), "warm", None)
            if warm is not None:
                try:
                    warm()
                except Exception as exc:  # noqa: BLE001 - each device's plan reports it
                    log.warning("config: platform %s not prepared: %s", name, exc)

    async def _run(self, loop: asyncio.AbstractEventLoop,
                   operation: Callable[[Device], DeviceResult], devices: list[Device],
                   on_result: Callable[[DeviceResult], None] | None) -> list[DeviceResult]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(devices))),
                                thread_name_prefix="simpul-config") as pool:

            async def one(device: Device) -> DeviceResult:
                result = await loop.run_in_executor(pool, operation, device)
                if on_result is not None:
                    on_result(result)
                return result

            return list(await asyncio.gather(*(one(d) for d in devices)))
