"""The SSH side of the device simulator: one asyncssh listener per device, an echoing shell.

A platform CLI (RouterOS, Cisco IOS) only turns one input line into output text; this module
does what a real device's terminal does around it: password login, echo, line endings, prompts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import asyncssh

log = logging.getLogger("simpul.lab.ssh_sim")


class Cli(Protocol):
    """One interactive CLI session on a simulated device."""

    closed: bool
    echo: bool  # False while the device reads a password

    def banner(self) -> str: ...

    def prompt(self) -> str: ...

    def handle_line(self, line: str) -> str: ...


CliFactory = Callable[[str], Cli]  # login username (without suffix) -> session


def host_key(path: Path) -> asyncssh.SSHKey:
    """The lab's host key, made once so clients see the same key across restarts."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


class _Auth(asyncssh.SSHServer):
    def __init__(self, device: str, username: str, password: str, strip_suffix: bool):
        self._device = device
        self._username = username
        self._password = password
        self._strip_suffix = strip_suffix

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return "PRIVATE KEY-----" in self._password  # the credential secret is a key

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """A secret holding a private key (as for real Linux gateways) admits its public key."""
        try:
            mine = asyncssh.import_private_key(self._password).export_public_key()
        except (asyncssh.KeyImportError, ValueError):
            return False
        return username == self._username and key.export_public_key() == mine

    def validate_password(self, username: str, password: str) -> bool:
        if self._strip_suffix:  # RouterOS: "user+ct511w4098h" carries terminal options
            username = username.split("+", 1)[0]
        ok = username == self._username and password == self._password
        if not ok:
            log.info("%s: login refused for %r", self._device, username)
        return ok


async def _run_shell(process: asyncssh.SSHServerProcess, make_cli: CliFactory,
                     strip_suffix: bool) -> None:
    username = process.get_extra_info("username") or ""
    if strip_suffix:
        username = username.split("+", 1)[0]
    cli = make_cli(username)
    out = process.stdout
    out.write(cli.banner() + cli.prompt())
    line: list[str] = []
    last_cr = False
    try:
        while not cli.closed:
            data = await process.stdin.read(4096)
            if not data:
                break
            reply: list[str] = []  # one write per chunk received: echo and answers together
            batch = getattr(cli, "batch", None)  # RouterOS: its state saved once per chunk
            with batch() if batch is not None else contextlib.nullcontext():
                for ch in data:
                    if ch == "\n" and last_cr:
                        last_cr = False
                        continue
                    last_cr = ch == "\r"
                    if ch in "\r\n":
                        text = "".join(line)
                        line.clear()
                        reply.append("\r\n")
                        answer = cli.handle_line(text)
                        if answer:
                            reply.append(answer.replace("\r\n", "\n").replace("\n", "\r\n"))
                            if not answer.endswith("\n"):
                                reply.append("\r\n")
                        if cli.closed:
                            break
                        reply.append(cli.prompt())
                    elif ch in "\x08\x7f":
                        if line:
                            line.pop()
                            if cli.echo:
                                reply.append("\x08 \x08")
                    elif ch == "\x03":
                        line.clear()
                        reply.append("\r\n" + cli.prompt())
                    elif ch >= " " or ch == "\t":
                        line.append(ch)
                        if cli.echo:
                            reply.append(ch)
            if reply:
                out.write("".join(reply))
            if cli.closed:
                break
    except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
        pass
    except (BrokenPipeError, ConnectionError, asyncssh.Error):
        return
    process.exit(0)


async def listen(device: str, host: str, port: int, key: asyncssh.SSHKey, username: str,
                 password: str, make_cli: CliFactory, *, strip_suffix: bool = False,
                 sftp_root: Path | None = None) -> asyncssh.SSHAcceptor:
    """Start one device's SSH listener; the caller closes it. With `sftp_root`, the SFTP
    subsystem serves that directory as the device's file root (and nothing outside it)."""

    async def handle(process: asyncssh.SSHServerProcess) -> None:
        await _run_shell(process, make_cli, strip_suffix)

    sftp: Any = None
    if sftp_root is not None:
        chroot = str(sftp_root).encode()

        def sftp(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
            return asyncssh.SFTPServer(chan, chroot=chroot)

    return await asyncssh.create_server(
        lambda: _Auth(device, username, password, strip_suffix),
        host, port, server_host_keys=[key], process_factory=handle,
        line_editor=False, encoding="utf-8", keepalive_interval=0,
        login_timeout=30, sftp_factory=sftp,
    )


async def wait_forever() -> None:
    await asyncio.Event().wait()
