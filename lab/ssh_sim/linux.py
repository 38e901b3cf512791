"""A Linux hotspot gateway's shell, close enough for netmiko's `linux` driver and Simpul's two
clients of Linux gateways: the config engine (controller/devices/linux.py) and the captive
portal's nftables adapter (captive_portal/gateways/nftables.py).

A tiny bash: `;`, `&&`, `||`, `{ ...; }`, `if ...; then ...; else ...; fi`, `$?` and
variables, `>`, `>>`, `2>&1`, `2>/dev/null`, and the commands those clients send (echo, printf,
base64, mkdir, rm, mv, chmod, cat, test, nft, sysctl, systemctl, ip neigh). Anything else is
`command not found` with exit status 127, so nothing passes silently. Nothing runs on the host:
every path is inside the device's private root, <state_dir>/ssh_sim/<device>.root/ (`..` is
refused), nftables is the model in lab.ssh_sim.linux_nft, and the neighbour table is a list.

The simulator has no radio, so it cannot see clients join: tests and the demo add neighbours
with `ip neigh replace <ip> lladdr <mac> dev <if>`, as on a real gateway.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import os
import posixpath
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.ssh_sim.linux_nft import MAC_RE, NftError, Ruleset
from lab.ssh_sim.state import DeviceState

log = logging.getLogger("simpul.lab.ssh_sim")
VAR_RE = re.compile(r"\$(\?|[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
SERVICES = ("dnsmasq", "nftables", "ssh")  # units the simulated gateway runs


class ShellError(Exception):
    """A line the shell cannot parse; the message is what bash prints."""


class ExitShell(Exception):  # noqa: N818 - control flow, not an error
    """`exit` or `logout`."""


# --------------------------------------------------------------------------- parsing


@dataclass
class Word:
    parts: list[tuple[str, bool]]  # (text, expands): single-quoted text does not expand
    quoted: bool = False

    @property
    def plain(self) -> str | None:
        """The word when it is one unquoted piece (reserved words, assignments)."""
        if len(self.parts) == 1 and self.parts[0][1] and not self.quoted:
            return self.parts[0][0]
        return None


@dataclass
class Redirect:
    fd: int
    op: str  # ">", ">>", ">&"
    target: Word


@dataclass
class Simple:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Group:
    body: list[Any]
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Unsupported:
    """Shell syntax the simulator parses but does not run: it fails like a command, so the
    rest of the line (the clients' exit-status markers) still runs."""

    message: str
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class If:
    condition: list[Any]
    then: list[Any]
    otherwise: list[Any] | None
    redirects: list[Redirect] = field(default_factory=list)


OPERATORS = ("&&", "||", ">>", ">&", ";", "|", "&", ">", "<", "(", ")")


def tokenize(line: str) -> list[Any]:
    """Words (Word) and operators (str); a redirect's file descriptor is a ("fd", n) tuple."""
    tokens: list[Any] = []
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    quoted = False
    in_word = False
    i = 0

    def end_word() -> None:
        nonlocal parts, current, quoted, in_word
        if in_word:
            if current or not parts:
                parts.append(("".join(current), True))
            tokens.append(Word([p for p in parts if p[0] or len(parts) == 1], quoted))
        parts, current, quoted, in_word = [], [], False, False

    while i < len(line):
        ch = line[i]
        if ch in " \t":
            end_word()
        elif ch == "#" and not in_word:
            break
        elif ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellError("bash: unexpected EOF while looking for matching `''")
            if current:
                parts.append(("".join(current), True))
                current = []
            parts.append((line[i + 1:end], False))
            quoted = in_word = True
            i = end
        elif ch == '"':
            if current:
                parts.append(("".join(current), True))
                current = []
            text: list[str] = []
            i += 1
            while i < len(line) and line[i] != '"':
                if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
                    i += 1
                elif line[i] == "`" or line[i:i + 2] == "$(":
                    raise ShellError("bash: command substitution is not simulated")
                text.append(line[i])
                i += 1
            if i >= len(line):
                raise ShellError("bash: unexpected EOF while looking for matching `\"'")
            parts.append(("".join(text), True))
            quoted = in_word = True
        elif ch == "\\" and i + 1 < len(line):
            if current:
                parts.append(("".join(current), True))
                current = []
            parts.append((line[i + 1], False))
            quoted = in_word = True
            i += 1
        elif ch == "`" or line[i:i + 2] == "$(":
            raise ShellError("bash: command substitution is not simulated")
        elif ch in "&|;<>()":
            op = next(o for o in OPERATORS if line.startswith(o, i))
            if op in (">", ">>", ">&", "<") and in_word and not parts and current and \
                    "".join(current).isdigit():
                fd = int("".join(current))
                current, in_word = [], False
                tokens.append(("fd", fd))
            else:
                end_word()
            tokens.append(op)
            i += len(op) - 1
        else:
            current.append(ch)
            in_word = True
        i += 1
    end_word()
    return tokens


class Parser:
    def __init__(self, tokens: list[Any]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Any:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def reserved(self) -> str | None:
        token = self.peek()
        return token.plain if isinstance(token, Word) else None

    def take(self) -> Any:
        token = self.peek()
        self.pos += 1
        return token

    def expect_word(self, word: str) -> None:
        if self.reserved() != word:
            found = self.peek()
            shown = found if isinstance(found, str) else (
                found.plain if isinstance(found, Word) else "newline")
            raise ShellError(f"bash: syntax error near unexpected token `{shown}'")
        self.take()

    def parse_list(self, stops: tuple[str, ...] = ()) -> list[Any]:
        """A list of and-or chains: [(first, [(op, next), ...]), ...]."""
        items: list[Any] = []
        while self.peek() is not None:
            if self.reserved() in stops:
                break
            if self.peek() == ";":
                raise ShellError("bash: syntax error near unexpected token `;'")
            chain = [("", self.parse_pipeline())]
            while self.peek() in ("&&", "||"):
                op = self.take()
                chain.append((op, self.parse_pipeline()))
            items.append(chain)
            if self.peek() == ";":
                self.take()
            elif self.peek() is not None and self.reserved() not in stops:
                token = self.peek()
                raise ShellError(f"bash: syntax error near unexpected token "
                                 f"`{token if isinstance(token, str) else token.plain}'")
        return items

    def parse_pipeline(self) -> Any:
        command = self.parse_command()
        if self.peek() not in ("|", "&"):
            return command
        while self.peek() == "|":
            self.take()
            self.parse_command()
        if self.peek() == "&":
            self.take()
        return Unsupported("bash: pipelines and background jobs are not simulated by the lab "
                           "gateway")

    def parse_redirects(self) -> list[Redirect]:
        redirects: list[Redirect] = []
        while True:
            token = self.peek()
            fd = 1
            if isinstance(token, tuple):
                fd = token[1]
                self.take()
                token = self.peek()
            if token not in (">", ">>", ">&", "<"):
                return redirects
            self.take()
            target = self.take()
            if not isinstance(target, Word):
                raise ShellError("bash: syntax error near unexpected token `newline'")
            redirects.append(Redirect(fd, token, target))

    def parse_command(self) -> Any:
        word = self.reserved()
        if word == "{":
            self.take()
            body = self.parse_list(("}",))
            self.expect_word("}")
            return Group(body, self.parse_redirects())
        if word == "if":
            self.take()
            condition = self.parse_list(("then",))
            self.expect_word("then")
            then = self.parse_list(("else", "elif", "fi"))
            if self.reserved() == "elif":
                raise ShellError("bash: elif is not simulated")
            otherwise = None
            if self.reserved() == "else":
                self.take()
                otherwise = self.parse_list(("fi",))
            self.expect_word("fi")
            return If(condition, then, otherwise, self.parse_redirects())
        if word in ("}", "then", "else", "fi", "elif", "do", "done"):
            raise ShellError(f"bash: syntax error near unexpected token `{word}'")
        command = Simple()
        while True:
            token = self.peek()
            if isinstance(token, Word):
                command.words.append(self.take())
            elif isinstance(token, tuple) or token in (">", ">>", ">&", "<"):
                command.redirects += self.parse_redirects()
            elif token in ("(", ")"):
                raise ShellError(f"bash: syntax error near unexpected token `{token}'")
            else:
                break
        if not command.words and not command.redirects:
            shown = token if isinstance(token, str) else "newline"
            raise ShellError(f"bash: syntax error near unexpected token `{shown}'")
        return command


# --------------------------------------------------------------------------- the gateway


class LinuxGateway:
    """One simulated gateway: files under a private root, nftables, neighbours, sysctl."""

    def __init__(self, name: str, state: DeviceState):
        self.name = name
        self.state = state
        self.root = (state.dir / f"{name}.root").resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        data = state.load() or {}
        self.nft = Ruleset(data.get("nft"))
        self.neighbours: list[dict[str, Any]] = data.get("neighbours", [])
        self.sysctl: dict[str, str] = data.get("sysctl", {})
        self.restarts: dict[str, float] = data.get("restarts", {})

    def save(self) -> None:
        self.state.save({"nft": self.nft.to_json(), "neighbours": self.neighbours,
                         "sysctl": self.sysctl, "restarts": self.restarts})

    def path(self, name: str, cwd: str) -> Path:
        """A path of the simulated host, as a file inside the private root."""
        if not name:
            raise OSError(f"{name}: No such file or directory")
        parts = [p for p in posixpath.join(cwd, name).split("/") if p and p != "."]
        if ".." in parts:
            raise PermissionError(f"{name}: Permission denied (the lab gateway keeps every "
                                  f"file inside its own root; `..` is refused)")
        full = self.root.joinpath(*parts)
        if not full.resolve().is_relative_to(self.root):
            raise PermissionError(f"{name}: Permission denied (outside the lab gateway's root)")
        return full


Output = list[str]


class LinuxCli:
    """One login shell on a simulated gateway."""

    def __init__(self, gateway: LinuxGateway, user: str):
        self.gateway = gateway
        self.user = user
        self.closed = False
        self.echo = True
        self.home = "/root" if user == "root" else f"/home/{user}"
        self.vars: dict[str, str] = {"HOME": self.home, "USER": user}
        self.status = 0

    def banner(self) -> str:
        return (f"Linux {self.gateway.name} 6.1.0-simpul-lab x86_64 (Simpul lab simulator)\n\n")

    def prompt(self) -> str:
        # bash's prompt: `#` for root, `$` for others. netmiko's `linux` driver takes a `#`
        # prompt for a root shell to leave with `exit` on disconnect (a 10 s wait), as on a
        # real gateway. The simulator lets any account manage nftables and /etc, as the
        # gateway's sudoers or capabilities would.
        sign = "#" if self.user == "root" else "$"
        return f"{self.user}@{self.gateway.name}:~{sign} "

    def handle_line(self, line: str) -> str:
        if not line.strip():
            return ""
        self.gateway.state.log_command(line)
        out: Output = []
        try:
            body = Parser(tokenize(line)).parse_list()
            self.status = self.run_list(body, out, out)
        except ShellError as exc:
            out.append(f"{exc}\n")
            self.status = 2
        except ExitShell:
            self.closed = True
        except Exception:  # a simulator bug must not end the session silently
            log.exception("%s: cannot run %r", self.gateway.name, line)
            out.append("bash: the lab gateway simulator failed on this line (see the lab log)\n")
            self.status = 1
        self.gateway.save()
        return "".join(out).encode("utf-8", "replace").decode("utf-8")

    # ---------------------------------------------------------------- execution

    def run_list(self, items: list[Any], out: Output, err: Output) -> int:
        status = self.status
        for chain in items:
            for op, command in chain:
                if op == "&&" and status != 0 or op == "||" and status == 0:
                    continue
                status = self.run_command(command, out, err)
                self.status = status
        return status

    def expand(self, word: Word) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1).strip("{}")
            return str(self.status) if name == "?" else self.vars.get(name, "")
        return "".join(VAR_RE.sub(value, text) if expands else text
                       for text, expands in word.parts)

    def run_command(self, command: Any, out: Output, err: Output) -> int:
        files: list[tuple[Path, bool, Output]] = []
        for redirect in command.redirects:
            target = self.expand(redirect.target)
            if redirect.op == ">&" and target in ("1", "2"):
                if redirect.fd == 2 and target == "1":
                    err = out
                elif redirect.fd == 1 and target == "2":
                    out = err
                continue
            if redirect.op == "<":
                err.append("bash: input redirection is not simulated by the lab gateway\n")
                return 1
            if redirect.op == ">&" or redirect.fd not in (1, 2):
                raise ShellError(f"bash: {target}: ambiguous redirect")
            sink: Output = []
            if target != "/dev/null":
                try:
                    path = self.gateway.path(target, self.home)
                    if path.is_dir():
                        raise IsADirectoryError(f"{target}: Is a directory")
                    with path.open("a" if redirect.op == ">>" else "w", encoding="utf-8"):
                        pass
                except OSError as exc:
                    err.append(f"bash: {_oserror(exc, target)}\n")
                    return 1
                files.append((path, redirect.op == ">>", sink))
            if redirect.fd == 1:
                out = sink
            else:
                err = sink
        if isinstance(command, Unsupported):
            err.append(command.message + "\n")
            status = 1
        elif isinstance(command, Group):
            status = self.run_list(command.body, out, err)
        elif isinstance(command, If):
            if self.run_list(command.condition, out, err) == 0:
                status = self.run_list(command.then, out, err)
            else:
                status = self.run_list(command.otherwise, out, err) if command.otherwise \
                    else 0
        else:
            status = self.run_simple(command, out, err)
        for path, _, sink in files:
            with path.open("a", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write("".join(sink))
        return status

    def run_simple(self, command: Simple, out: Output, err: Output) -> int:
        words = list(command.words)
        while words and (plain := words[0].plain) and re.match(r"^[A-Za-z_]\w*=", plain):
            name, _, _ = plain.partition("=")
            self.vars[name] = self.expand(words.pop(0)).split("=", 1)[1]
        if not words:
            return 0
        argv = [self.expand(w) for w in words]
        handler = COMMANDS.get(argv[0])
        if handler is None:
            err.append(f"bash: {argv[0]}: command not found\n")
            return 127
        try:
            return handler(self, argv, out, err)
        except OSError as exc:
            err.append(f"{argv[0]}: {_oserror(exc, '')}\n")
            return 1

    def file(self, name: str) -> Path:
        return self.gateway.path(name, self.home)


def _oserror(exc: OSError, name: str) -> str:
    if exc.strerror and exc.filename is not None:
        return f"{name or exc.filename}: {exc.strerror}"
    return str(exc)


# --------------------------------------------------------------------------- commands


def _echo(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline = False
        args = args[1:]
    out.append(" ".join(args) + ("\n" if newline else ""))
    return 0


def _printf(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    if len(argv) < 2:
        err.append("printf: usage: printf [-v var] format [arguments]\n")
        return 2
    fmt = argv[1].replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
    pieces = re.split(r"(%%|%s)", fmt)
    if any("%" in p for p in pieces if p not in ("%%", "%s")):
        err.append("printf: only %s is simulated\n")
        return 1
    args = argv[2:]
    per_round = pieces.count("%s")
    while True:
        for piece in pieces:
            if piece == "%s":
                out.append(args.pop(0) if args else "")
            else:
                out.append("%" if piece == "%%" else piece)
        if not args or per_round == 0:
            return 0


def _true(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    return 0


def _false(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    return 1


def _export(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    for arg in argv[1:]:
        name, _, value = arg.partition("=")
        if not re.match(r"^[A-Za-z_]\w*$", name):
            err.append(f"bash: {argv[0]}: `{arg}': not a valid identifier\n")
            return 1
        if value or "=" in arg:
            cli.vars[name] = value
    return 0


def _unset(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    for name in argv[1:]:
        cli.vars.pop(name, None)
    return 0


def _exit(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    raise ExitShell


def _test(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            err.append("bash: [: missing `]'\n")
            return 2
        args = args[:-1]
    if len(args) == 2 and args[0] in ("-f", "-d", "-e", "-s"):
        try:
            path = cli.file(args[1])
        except OSError:
            return 1
        checks = {"-f": path.is_file, "-d": path.is_dir, "-e": path.exists,
                  "-s": lambda: path.is_file() and path.stat().st_size > 0}
        return 0 if checks[args[0]]() else 1
    if len(args) == 3 and args[1] in ("=", "!="):
        return 0 if (args[0] == args[2]) == (args[1] == "=") else 1
    err.append(f"bash: {argv[0]}: only -f/-d/-e/-s and string comparison are simulated\n")
    return 2


def _base64(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = [a for a in argv[1:] if a not in ("-w0", "-d", "--decode")]
    if len(args) != 1:
        err.append("base64: the lab gateway reads one file\n")
        return 1
    data = cli.file(args[0]).read_bytes()
    if "-d" in argv or "--decode" in argv:
        try:
            decoded = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            err.append("base64: invalid input\n")
            return 1
        out.append(decoded.decode("utf-8", "surrogateescape"))
        return 0
    encoded = base64.b64encode(data).decode()
    out.append(encoded if "-w0" in argv else "\n".join(
        encoded[i:i + 76] for i in range(0, len(encoded), 76)) + "\n")
    return 0


def _cat(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    status = 0
    for name in argv[1:]:
        try:
            out.append(cli.file(name).read_text("utf-8", "replace"))
        except OSError as exc:
            err.append(f"cat: {_oserror(exc, name)}\n")
            status = 1
    return status


def _mkdir(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    parents = "-p" in argv
    for name in [a for a in argv[1:] if a != "-p"]:
        path = cli.file(name)
        try:
            path.mkdir(parents=parents, exist_ok=parents)
        except FileExistsError:
            err.append(f"mkdir: cannot create directory '{name}': File exists\n")
            return 1
        except OSError as exc:
            err.append(f"mkdir: cannot create directory '{name}': {exc.strerror}\n")
            return 1
    return 0


def _rm(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    force = "-f" in argv
    status = 0
    for name in [a for a in argv[1:] if a != "-f"]:
        if name.startswith("-"):
            err.append(f"rm: option {name} is not simulated\n")
            return 1
        path = cli.file(name)
        if path.is_dir():
            err.append(f"rm: cannot remove '{name}': Is a directory\n")
            status = 1
        elif path.exists() or path.is_symlink():
            path.unlink()
        elif not force:
            err.append(f"rm: cannot remove '{name}': No such file or directory\n")
            status = 1
    return status


def _mv(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = [a for a in argv[1:] if a != "-f"]
    if len(args) != 2:
        err.append("mv: the lab gateway moves one file to one path\n")
        return 1
    source, target = cli.file(args[0]), cli.file(args[1])
    if not source.exists():
        err.append(f"mv: cannot stat '{args[0]}': No such file or directory\n")
        return 1
    if target.is_dir():
        target = target / source.name
    os.replace(source, target)
    return 0


def _chmod(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    if len(argv) < 3 or not re.match(r"^[0-7]{3,4}$", argv[1]):
        err.append("chmod: the lab gateway takes an octal mode and files\n")
        return 1
    for name in argv[2:]:
        path = cli.file(name)
        if not path.exists():
            err.append(f"chmod: cannot access '{name}': No such file or directory\n")
            return 1
        path.chmod(int(argv[1], 8) | 0o600)  # the simulator keeps its own files readable
    return 0


def _nft(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = argv[1:]
    json_output = check_only = False
    source: str | None = None
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("-j", "--json"):
            json_output = True
        elif option in ("-c", "--check"):
            check_only = True
        elif option in ("-f", "--file") and args:
            source = args.pop(0)
        elif option in ("-v", "--version"):
            out.append("nftables v1.0.6 (Lester Gooch #5)\n")
            return 0
        else:
            err.append(f"nft: option {option} is not simulated by the lab gateway\n")
            return 1
    if source is not None:
        if args:
            err.append("Error: syntax error, unexpected string after -f FILE\n")
            return 1
        try:
            script = cli.file(source).read_text("utf-8")
        except OSError:
            err.append(f'internal:0:0-0: Error: Could not open file "{source}": '
                       f"No such file or directory\n\n\n")
            return 1
    else:
        script = " ".join(args)
        if not script.strip():
            err.append("Error: no command specified\n")
            return 1
    try:
        out.append(cli.gateway.nft.run(script, json_output, check_only))
    except NftError as exc:
        message, _, statement = str(exc).partition("\n")
        prefix = f"{source}: " if source is not None else ""
        err.append(f"{prefix}Error: {message}\n{statement}\n{'^' * max(1, len(statement))}\n")
        return 1
    return 0


def _sysctl(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = argv[1:]
    quiet = "-q" in args
    args = [a for a in args if a != "-q"]
    if len(args) != 2 or args[0] != "-p":
        err.append("sysctl: the lab gateway loads files only (sysctl [-q] -p FILE)\n")
        return 1
    try:
        text = cli.file(args[1]).read_text("utf-8")
    except OSError:
        err.append(f'sysctl: cannot open "{args[1]}": No such file or directory\n')
        return 255
    settings: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.match(r"^[a-z0-9_.]+$", key.strip()):
            err.append(f"sysctl: {args[1]}({number}): invalid syntax, continuing...\n")
            continue
        settings[key.strip()] = value.strip()
    cli.gateway.sysctl.update(settings)
    if not quiet:
        out.append("".join(f"{k} = {v}\n" for k, v in settings.items()))
    return 0


def _systemctl(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = [a for a in argv[1:] if a not in ("-q", "--quiet")]
    quiet = len(args) != len(argv) - 1
    if len(args) != 2 or args[0] not in ("is-active", "restart", "reload"):
        err.append("systemctl: the lab gateway knows is-active, restart and reload of one "
                   "unit\n")
        return 1
    verb, unit = args[0], args[1].removesuffix(".service")
    if verb == "is-active":
        if not quiet:
            out.append("active\n" if unit in SERVICES else "inactive\n")
        return 0 if unit in SERVICES else 3
    if unit not in SERVICES:
        err.append(f"Failed to {verb} {unit}.service: Unit {unit}.service not found.\n")
        return 5
    cli.gateway.restarts[unit] = time.time()
    return 0


def _ip(cli: LinuxCli, argv: list[str], out: Output, err: Output) -> int:
    args = argv[1:]
    json_output = bool(args) and args[0] in ("-j", "-json")
    if json_output:
        args = args[1:]
    if not args or args[0] not in ("neigh", "neighbor", "neighbour", "n"):
        err.append(f"Object \"{args[0] if args else ''}\" is not simulated by the lab "
                   f"gateway (only `ip neigh`).\n")
        return 1
    verb, rest = (args[1] if len(args) > 1 else "show"), args[2:]
    table = cli.gateway.neighbours
    if verb in ("show", "list", "ls"):
        if rest and rest[0] == "to":
            rest = rest[1:]
        wanted = None
        if rest:
            try:
                wanted = str(ipaddress.ip_address(rest[0]))
            except ValueError:
                err.append(f'Error: any valid prefix is expected rather than "{rest[0]}".\n')
                return 1
        rows = [n for n in table if wanted is None or n["dst"] == wanted]
        if json_output:
            out.append(json.dumps(rows, separators=(",", ":")) + "\n")
        else:
            out.append("".join(f"{n['dst']} dev {n['dev']} lladdr {n['lladdr']} "
                               f"{' '.join(n['state'])}\n" for n in rows))
        return 0
    if verb in ("add", "replace", "change", "del", "delete"):
        options = dict(zip(rest[1::2], rest[2::2], strict=False))
        try:
            address = str(ipaddress.ip_address(rest[0] if rest else ""))
        except ValueError:
            shown = rest[0] if rest else ""
            err.append(f'Error: any valid address is expected rather than "{shown}".\n')
            return 1
        device = options.get("dev", "")
        if not IFNAME_RE.match(device):
            err.append(f'Cannot find device "{device}"\n')
            return 1
        present = [n for n in table if n["dst"] == address and n["dev"] == device]
        if verb in ("del", "delete"):
            if not present:
                err.append("RTNETLINK answers: No such file or directory\n")
                return 2
            table[:] = [n for n in table if n not in present]
            return 0
        mac = options.get("lladdr", "")
        if not MAC_RE.match(mac):
            err.append(f'"{mac}" is invalid lladdr.\n')
            return 1
        if verb == "add" and present:
            err.append("RTNETLINK answers: File exists\n")
            return 2
        state = options.get("nud", "permanent").upper()
        table[:] = [n for n in table if n not in present]
        table.append({"dst": address, "dev": device, "lladdr": mac.lower(), "state": [state]})
        return 0
    err.append(f'Command "{verb}" is unknown, try "ip neigh help".\n')
    return 255


COMMANDS = {
    "echo": _echo, "printf": _printf, ":": _true, "true": _true, "false": _false,
    "export": _export, "unset": _unset, "exit": _exit, "logout": _exit,
    "[": _test, "test": _test, "base64": _base64, "cat": _cat, "mkdir": _mkdir, "rm": _rm,
    "mv": _mv, "chmod": _chmod, "nft": _nft, "sysctl": _sysctl, "systemctl": _systemctl,
    "ip": _ip,
}
