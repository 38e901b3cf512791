"""Linux gateways over netmiko `linux`: managed files, and the live nftables table.

The intent is a set of files, each introduced by a `### file: PATH` line (the format of
templates/linux/hotspot_gateway.j2). The running config is the same files as found on the
gateway plus the live state of each nftables table they declare. A changed file is written
atomically and reloaded by kind: `*.nft` with `nft -f`, sysctl.d with `sysctl -p`, and
dnsmasq.d by restarting dnsmasq when systemd runs it. Device var `config_root` prefixes every
path (a chroot, or a test's private directory).
"""

from __future__ import annotations

import base64
import difflib
import re
import shlex
import uuid
from typing import Any

from controller.devices.base import DeviceError, DeviceTarget, IntentError, Plan, netmiko_connect

FILE_MARK = re.compile(r"^### file: (\S+)\s*$", re.M)
LIVE_MARK = "### live: "
ABSENT = "(absent)"
TABLE_RE = re.compile(r"^\s*table\s+(inet|ip|ip6|arp|bridge|netdev)\s+([A-Za-z0-9_]+)\s*\{",
                      re.M)
CHUNK = 400


def split_files(text: str) -> dict[str, str]:
    """`### file: PATH` sections -> {path: content}; content ends with one newline."""
    files: dict[str, str] = {}
    marks = list(FILE_MARK.finditer(text))
    if text.strip() and not marks:
        raise IntentError("line 1: no `### file: PATH` section")
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        files[mark.group(1)] = text[mark.end():end].strip("\n") + "\n"
    return files


def _sections(running: str) -> tuple[dict[str, str | None], dict[str, str]]:
    files: dict[str, str | None] = {}
    live: dict[str, str] = {}
    current: tuple[str, str] | None = None
    buffer: list[str] = []

    def flush() -> None:
        if current is None:
            return
        kind, name = current
        body = "\n".join(buffer).strip("\n")
        if kind == "file":
            files[name] = None if body == ABSENT else body + "\n"
        else:
            live[name] = body
    for line in running.splitlines():
        mark = FILE_MARK.match(line)
        if mark or line.startswith(LIVE_MARK):
            flush()
            current = ("file", mark.group(1)) if mark else ("live", line[len(LIVE_MARK):])
            buffer = []
        else:
            buffer.append(line)
    flush()
    return files, live


def nft_tables(content: str) -> list[str]:
    """`family name` of every table a ruleset file defines."""
    return sorted({f"{m[1]} {m[2]}" for m in TABLE_RE.finditer(content)})


def _shape(ruleset: str) -> str:
    """The chains and sets of a live table, without elements or counters (they change)."""
    names = re.findall(r"^\s*(chain|set|map)\s+(\S+)\s*\{", ruleset, re.M)
    return ", ".join(f"{kind} {name}" for kind, name in sorted(names))


def _reload_command(path: str, full: str) -> str | None:
    q = shlex.quote(full)
    if path.endswith(".nft"):
        return f"nft -f {q}"
    if "/sysctl.d/" in path:
        return f"sysctl -q -p {q}"
    if "/dnsmasq.d/" in path:
        return ("if systemctl is-active -q dnsmasq 2>/dev/null; then systemctl restart dnsmasq;"
                " fi")
    return None


class Linux:
    name = "linux"

    def connect(self, target: DeviceTarget) -> Any:
        conn = netmiko_connect(target, "linux")
        conn.simpul_root = str(target.options.get("config_root", "")).rstrip("/")
        self._run(conn, "export LC_ALL=C; unset HISTFILE")
        return conn

    # -------------------------------------------------------------- shell helpers

    def _run(self, conn: Any, command: str, check: bool = True) -> str:
        """Run a shell command; return its output (stdout+stderr) between two markers.

        Long commands wrap in the terminal and garble the echo, so the output is found by
        markers the shell prints on their own lines, not by matching the echoed command.
        """
        tag = uuid.uuid4().hex[:10]
        begin, end = f"__simpul_begin_{tag}", f"__simpul_rc_{tag}"
        output = conn.send_command(f"echo {begin}; {{ {command} ; }} 2>&1; _rc=$?; echo; "
                                   f"echo {end}=$_rc",
                                   expect_string=rf"{end}=\d+", cmd_verify=False,
                                   read_timeout=60)
        text = output.replace("\r", "")
        match = re.search(rf"^{begin}$\n?(.*?)^{end}=(\d+)", text, re.M | re.S)
        if match is None:
            raise DeviceError(f"{command}\nunreadable shell output: {text[-400:]!r}")
        body, code = match.group(1), match.group(2)
        if check and code != "0":
            raise DeviceError(f"{command}\n{body.strip()}\n(exit status {code})")
        return body.strip("\n")

    def _path(self, conn: Any, path: str) -> str:
        return f"{getattr(conn, 'simpul_root', '')}{path}"

    # -------------------------------------------------------------- protocol

    def normalise(self, raw: str) -> str:
        return "\n".join(line.rstrip() for line in raw.replace("\r", "").split("\n")).strip(
            "\n") + "\n"

    def fetch(self, conn: Any, intent: str) -> str:
        wanted = split_files(intent)
        out: list[str] = []
        tables: set[str] = set()
        for path, content in wanted.items():
            full = shlex.quote(self._path(conn, path))
            encoded = self._run(conn, f"if [ -f {full} ]; then base64 -w0 {full}; "
                                      f"else echo ABSENT; fi")
            encoded = encoded.strip()
            out.append(f"### file: {path}")
            if encoded == "ABSENT":
                out.append(ABSENT)
            else:
                data = base64.b64decode(encoded).decode("utf-8", "replace")
                out.append(data.rstrip("\n"))
                if path.endswith(".nft"):
                    tables.update(nft_tables(data))
            if path.endswith(".nft"):
                tables.update(nft_tables(content))
        for table in sorted(tables):
            listing = self._run(conn, f"nft list table {table}", check=False)
            shape = _shape(listing) if re.search(r"^\s*table ", listing, re.M) else ABSENT
            out += [f"{LIVE_MARK}{table}", shape]
        return self.normalise("\n".join(out))

    def plan(self, intent: str, running: str) -> Plan:
        want = split_files(intent)
        have, live = _sections(running)
        actions: list[Any] = []
        diff: list[str] = []
        for path, content in want.items():
            current = have.get(path)
            if current == content:
                stale = [t for t in nft_tables(content)
                         if live.get(t, ABSENT) != _shape(content)] if path.endswith(".nft") \
                    else []
                if stale:
                    actions.append(("reload", path, None))
                    for table in stale:
                        diff += [f"--- live nftables {table}", f"+++ as in {path}",
                                 f"-{live.get(table, ABSENT)}", f"+{_shape(content)}"]
                continue
            actions.append(("write", path, content))
            diff += difflib.unified_diff((current or "").splitlines(), content.splitlines(),
                                         f"{path} (running)" if current is not None
                                         else f"{path} (absent)", f"{path} (intended)",
                                         lineterm="", n=2)
        return Plan(diff="\n".join(diff) + "\n" if diff else "", actions=actions)

    def rollback_plan(self, backup: str, current: str) -> Plan:
        old, old_live = _sections(backup)
        now, _ = _sections(current)
        actions: list[Any] = []
        diff: list[str] = []
        for path, content in old.items():
            if now.get(path) == content:
                continue
            if content is None:
                tables = nft_tables(now.get(path) or "") if path.endswith(".nft") else []
                actions.append(("remove", path, tables))
                diff.append(f"remove {path}")
            else:
                actions.append(("write", path, content))
                diff.append(f"restore {path}")
        return Plan(diff="\n".join(diff) + "\n" if diff else "", actions=actions)

    def apply(self, conn: Any, plan: Plan) -> None:
        reloads: list[str] = []
        for kind, path, payload in plan.actions:
            full = self._path(conn, path)
            if kind == "write":
                self._write(conn, full, payload)
            elif kind == "remove":
                self._run(conn, f"rm -f {shlex.quote(full)}")
                for table in payload:
                    self._run(conn, f"nft delete table {table}", check=False)
                continue
            command = _reload_command(path, full)
            if command and command not in reloads:
                reloads.append(command)
        # sysctl before the ruleset before services: the order a gateway boots in.
        reloads.sort(key=lambda c: 0 if c.startswith("sysctl") else 1 if c.startswith("nft")
                     else 2)
        for command in reloads:
            self._run(conn, command)

    def _write(self, conn: Any, full: str, content: str) -> None:
        encoded = base64.b64encode(content.encode("utf-8")).decode()
        staging = f"{full}.simpul-{uuid.uuid4().hex[:8]}"
        directory = shlex.quote(full.rsplit("/", 1)[0] or "/")
        self._run(conn, f"mkdir -p {directory} && : > {shlex.quote(staging)}.b64")
        for start in range(0, len(encoded), CHUNK):
            self._run(conn, f"printf %s {encoded[start:start + CHUNK]} >> "
                            f"{shlex.quote(staging)}.b64")
        q_staging, q_full = shlex.quote(staging), shlex.quote(full)
        self._run(conn, f"base64 -d {q_staging}.b64 > {q_staging} && rm -f {q_staging}.b64 && "
                        f"chmod 0644 {q_staging} && mv -f {q_staging} {q_full}")

    def save(self, conn: Any) -> None:
        """Files are already on disk."""
