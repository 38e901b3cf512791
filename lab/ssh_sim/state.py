"""Per-device simulator state on disk: a JSON document and a log of the command lines received."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class DeviceState:
    """Where one simulated device keeps its configuration between restarts.

    Another process may replace the file (`simpul lab seed` while the lab runs): a simulator
    asks `changed_on_disk()` before each command and reloads, so the lab picks the change up.
    """

    def __init__(self, state_dir: Path, device: str):
        self.dir = state_dir / "ssh_sim"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / f"{device}.json"
        self.log_path = self.dir / f"{device}.commands.log"
        self._seen: tuple[int, int, int] | None = None  # the file as last loaded or saved
        self._text: str | None = None  # its content then

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def load(self) -> dict[str, Any] | None:
        try:
            signature = self._signature()
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._seen = self._text = None
            return None
        self._seen, self._text = signature, text
        return json.loads(text)  # type: ignore[no-any-return]

    def changed_on_disk(self) -> bool:
        """True when the file is not the one this object last loaded or saved (every save
        renames a new file into place, so its inode changes even within one mtime tick)."""
        return self._signature() != self._seen

    def save(self, data: dict[str, Any]) -> None:
        """Atomically; each writer has its own temporary file, so two sessions (or two
        simulator objects) of one device saving at once never rename each other's. A document
        equal to the file as last loaded or saved is not written again: a read-only command
        (an export, a print) changes nothing (issue #17: rewrites were 12% of a push)."""
        text = json.dumps(data, indent=1, sort_keys=True)
        if text == self._text and not self.changed_on_disk():
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
            self._seen, self._text = self._signature(), text
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def log_command(self, line: str) -> None:
        """Record a command line (never a password: callers skip hidden input)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")


def read_command_log(state_dir: Path, device: str) -> list[str]:
    """The command lines a simulated device received, oldest first (for tests and demos)."""
    path = state_dir / "ssh_sim" / f"{device}.commands.log"
    if not path.exists():
        return []
    return [line.split(" ", 1)[1] if " " in line else ""
            for line in path.read_text(encoding="utf-8").splitlines()]
