"""A simulated router's files: a directory per device (<state>/ssh_sim/<device>.files), served
over SFTP by the device's SSH listener (RouterOS's SSH server offers SFTP: MikroTik manual,
"SSH", and "Files") and listed by `/file print` / removed by `/file remove`.

`/file print` prints what RouterOS 7 prints (MikroTik manual, "Files":
https://help.mikrotik.com/docs/spaces/ROS/pages/2555971/Files): one item per file and
directory, named by its path from the file root (`simpul/login.html`), with its type
(`directory`, `.html file`), size in bytes and last-modified time.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.ssh_sim import routeros
from lab.ssh_sim.routeros import Command, RouterOSDevice, RouterOSError, matches, quote


def files_root(device: RouterOSDevice) -> Path:
    """Where the device's files live (made on first use)."""
    root = device.state.dir / f"{device.name}.files"
    root.mkdir(parents=True, exist_ok=True)
    return root


def read_file(device: RouterOSDevice, path: str) -> str | None:
    """A file's text (None when there is none), for the hotspot servlet and tests."""
    target = _inside(device, path)
    try:
        return target.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _inside(device: RouterOSDevice, path: str) -> Path:
    root = files_root(device).resolve()
    target = (root / path.lstrip("/")).resolve()
    if target != root and root not in target.parents:
        raise RouterOSError("no such item")
    return target


def _rows(device: RouterOSDevice) -> list[dict[str, Any]]:
    root = files_root(device)
    rows = []
    for entry in sorted(root.rglob("*")):
        name = entry.relative_to(root).as_posix()
        stamp = datetime.fromtimestamp(entry.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
        if entry.is_dir():
            rows.append({"name": name, "type": "directory", "last-modified": stamp})
        else:
            kind = f"{entry.suffix} file" if entry.suffix else "file"
            rows.append({"name": name, "type": kind, "size": str(entry.stat().st_size),
                         "last-modified": stamp})
    return rows


class FileMenu:
    """`/file print [terse|detail] [where ...]` and `/file remove`."""

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        rows = _rows(device)
        if cmd.verb == "print":
            flags = {flag for flag, _ in cmd.flags}
            unknown = [(f, c) for f, c in cmd.flags
                       if f not in ("terse", "detail", "without-paging", "where")]
            if unknown:
                raise RouterOSError(f"expected end of command (line 1 column {unknown[0][1]})")
            wanted = {key: value for key, value, _ in cmd.args}
            shown = [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]
            if "terse" in flags or "detail" in flags:
                return "\n".join(
                    f"{n:>2} " + " ".join(f"{k}={quote(v)}" for k, v in row.items())
                    for n, row in enumerate(shown))
            lines = [" # NAME" + " " * 30 + "TYPE        SIZE  LAST-MODIFIED"]
            lines += [f"{n:>2} {r['name']:<34} {r['type']:<11} {r.get('size', ''):>5}  "
                      f"{r['last-modified']}" for n, r in enumerate(shown)]
            return "\n".join(lines)
        if cmd.verb == "remove":
            selector = (cmd.selector or "").strip()
            if not selector:
                raise RouterOSError(f"expected end of command (line 1 column "
                                    f"{len(cmd.line) + 1})")
            if selector.startswith("["):
                chosen = [r for r in rows if matches(selector, r, cmd.selector_column)]
            elif selector.replace(",", "").isdigit():
                numbers = [int(n) for n in selector.split(",")]
                if any(n >= len(rows) for n in numbers):
                    raise RouterOSError("no such item")
                chosen = [rows[n] for n in numbers]
            else:
                chosen = [r for r in rows if r["name"] == routeros.unquote(selector)]
                if not chosen:
                    raise RouterOSError("no such item")
            for row in sorted(chosen, key=lambda r: r["name"], reverse=True):
                target = _inside(device, row["name"])
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)
            return ""
        raise routeros.bad_verb(cmd)


routeros.HANDLERS["/file"] = FileMenu()


# --------------------------------------------------------------------------- for tests
# What the config engine does over SSH and SFTP, done to a simulator object in-process.

def handle_action(cli: Any, action: Any) -> str:
    """Carry out one plan action as MikrotikRouterOS.apply would: a command line through the
    CLI, a ("write"/"remove", path, content) file action into the device's files."""
    if isinstance(action, str):
        return str(cli.handle_line(action))
    kind, path, content = action
    target = _inside(cli.device, path)
    if kind == "remove":
        target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return ""


def running_config(cli: Any, intent: str) -> str:
    """What MikrotikRouterOS.fetch returns: the normalised export, then the intent's files."""
    from controller.devices import routeros_files
    from controller.devices.mikrotik_routeros import MikrotikRouterOS

    _, wanted = routeros_files.split(intent)
    text = MikrotikRouterOS().normalise(cli.handle_line("/export show-sensitive"))
    return text + routeros_files.sections({p: read_file(cli.device, p) for p in wanted})
