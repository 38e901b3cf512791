"""Files on a RouterOS device (the hotspot's pages), carried in the intent as `### file: PATH`
sections after the configuration, read and written over SFTP.

Why SFTP and not `/tool fetch`: RouterOS's SSH server offers SFTP (MikroTik manual, "SSH":
https://help.mikrotik.com/docs/spaces/ROS/pages/132350014/SSH, and "Files": files are
uploaded by FTP, SFTP or Winbox), on the session the push already holds, with the host key
already pinned and the same credentials. `/tool fetch` would make the router pull from an
HTTP server on the controller: one more listener to run and open through every firewall in
the path, and a second trust question (what the router fetched) that the push cannot check.
Over SFTP the push reads each file back and compares it, so a page is only written when it
differs, and the second push is `unchanged`.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import stat
from typing import Any

from controller.devices.base import DeviceError, IntentError

FILE_MARK = re.compile(r"^### file: (\S+)[ \t]*$", re.M)
ABSENT = "(absent)"
_PATH_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


def split(text: str) -> tuple[str, dict[str, str | None]]:
    """(configuration text, {path: content or None when absent}) of an intent or a running
    config: everything before the first `### file:` line is configuration."""
    marks = list(FILE_MARK.finditer(text))
    if not marks:
        return text, {}
    files: dict[str, str | None] = {}
    for index, mark in enumerate(marks):
        path = mark.group(1)
        if not _PATH_RE.fullmatch(path) or ".." in path.split("/"):
            raise IntentError(f"file path {path!r}: letters, digits, '.', '_', '-' and '/' "
                              "only, relative to the router's file root")
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        body = text[mark.end():end].strip("\n")
        files[path] = None if body == ABSENT else body + "\n"
    return text[:marks[0].start()], files


def sections(files: dict[str, str | None]) -> str:
    """Files written back as `### file:` sections (ABSENT for a missing one)."""
    out: list[str] = []
    for path, content in files.items():
        out += [f"### file: {path}", ABSENT if content is None else content.rstrip("\n")]
    return "\n".join(out) + "\n" if out else ""


def plan(want: dict[str, str | None], have: dict[str, str | None]
         ) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """(diff lines, actions) that make the device's files `want`: ("write", path, content)
    or ("remove", path, None)."""
    diff: list[str] = []
    actions: list[tuple[str, str, str | None]] = []
    for path, content in want.items():
        current = have.get(path)
        if current == content:
            continue
        if content is None:
            actions.append(("remove", path, None))
            diff.append(f"remove file {path}")
            continue
        actions.append(("write", path, content))
        diff += difflib.unified_diff(
            (current or "").splitlines(), content.splitlines(),
            f"{path} (running)" if current is not None else f"{path} (absent)",
            f"{path} (intended)", lineterm="", n=2)
    return diff, actions


def _sftp(conn: Any) -> Any:
    """An SFTP client on the netmiko session's own SSH transport (host key already checked)."""
    import paramiko

    transport = conn.remote_conn.get_transport()
    try:
        return paramiko.SFTPClient.from_transport(transport)
    except (paramiko.SSHException, OSError) as exc:
        raise DeviceError(f"SFTP refused: {exc}") from None


def read(conn: Any, paths: list[str]) -> dict[str, str | None]:
    """Each file's text as the device holds it (None: no such file)."""
    if not paths:
        return {}
    sftp = _sftp(conn)
    try:
        out: dict[str, str | None] = {}
        for path in paths:
            try:
                with sftp.open(path, "rb") as handle:
                    out[path] = handle.read().decode("utf-8", "replace")
            except FileNotFoundError:
                out[path] = None
        return out
    finally:
        sftp.close()


def apply(conn: Any, actions: list[tuple[str, str, str | None]]) -> None:
    """Write or remove files; a directory that is missing is made first."""
    if not actions:
        return
    sftp = _sftp(conn)
    try:
        for kind, path, content in actions:
            try:
                if kind == "remove":
                    try:
                        sftp.remove(path)
                    except FileNotFoundError:
                        pass
                    continue
                _make_dirs(sftp, posixpath.dirname(path))
                with sftp.open(path, "wb") as handle:
                    handle.write((content or "").encode("utf-8"))
            except OSError as exc:
                raise DeviceError(f"SFTP {kind} {path}: {exc}") from None
    finally:
        sftp.close()


def _make_dirs(sftp: Any, directory: str) -> None:
    if not directory:
        return
    try:
        if stat.S_ISDIR(sftp.stat(directory).st_mode):
            return
    except FileNotFoundError:
        pass
    _make_dirs(sftp, posixpath.dirname(directory))
    sftp.mkdir(directory)
