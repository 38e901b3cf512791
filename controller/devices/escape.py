"""How a value is written into each platform's config text, so that inventory text can never
become a command: RouterOS quotes it, IOS (which has no quoting) takes only safe words and
cleaned text, and Linux gateway files (dnsmasq, nftables) take only plain tokens or checked
strings.

Templates get the platform's `finalize` (every `{{ }}` passes through it) and its filters.
A filter's result is `Escaped`: already written for the platform, so `finalize` keeps it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import jinja2

from controller.devices.mikrotik_routeros import quote as ros_quote


class Escaped(str):
    """Text already written for its platform: `finalize` passes it through unchanged."""


class UnsafeValue(ValueError):
    """A value the platform's config syntax cannot hold safely."""


def _refuse(platform: str, what: str, ch: str) -> UnsafeValue:
    """The error names the character, never the value: it may be a secret."""
    shown = repr(ch) if ch.isprintable() and ch != " " else f"U+{ord(ch):04X}"
    return UnsafeValue(f"a value holds {shown}, which a {platform} config cannot take in "
                       f"{what}")


def safe(value: Any) -> Escaped:
    """Mark text as already escaped; templates use it only for macro output and literals."""
    return Escaped(value)


# --------------------------------------------------------------------------- RouterOS

def ros(value: Any) -> str:
    """A RouterOS value: bare when plain, else quoted with RouterOS escapes."""
    return value if isinstance(value, Escaped) else Escaped(ros_quote(str(value)))


def ros_quoted(value: Any) -> Escaped:
    """A RouterOS value, quoted even when plain (as /export writes passwords)."""
    text = ros_quote(str(value))
    return Escaped(text if text.startswith('"') else f'"{text}"')


# --------------------------------------------------------------------------- Cisco IOS
# IOS has no quoting and no escapes: a word must hold no space, and no `?` (the console's help
# key, which swallows the rest of the line); text running to the end of a line (description,
# location, contact) is cleaned to printable ASCII on one line.

_IOS_WORD = re.compile(r"[!-~]+")  # printable ASCII without space


def ios_word(value: Any) -> str:
    if isinstance(value, Escaped):
        return value
    text = str(value)
    for ch in text:
        if not ("!" <= ch <= "~") or ch == "?":
            raise _refuse("Cisco IOS", "a word", ch)
    if not text:
        raise UnsafeValue("an empty value cannot be written into a Cisco IOS config as a word")
    return text


def ios_text(value: Any) -> Escaped:
    """Free text for the end of an IOS line: accents folded to ASCII, other characters, `?`
    and line breaks dropped or made spaces, so it stays one harmless line."""
    folded = unicodedata.normalize("NFKD", str(value))
    out = []
    for ch in folded:
        if " " <= ch <= "~" and ch != "?":
            out.append(ch)
        elif not ch.isprintable() or ch.isspace():
            out.append(" ")
    return Escaped(" ".join("".join(out).split()))


# --------------------------------------------------------------------------- Linux gateway
# One template writes dnsmasq and nftables files. A bare value is a token: no space, quote,
# backslash, `#` (comments), `;` (nft command separator), braces or line break. Strings go
# through nft_string / dnsmasq_string (quoted, and refused if they hold a quote or backslash,
# which nft cannot escape), and comments through conf_comment.

_LINUX_TOKEN = re.compile(r"[A-Za-z0-9._:/,+@*%=~-]*")
_NFT_MATCH = re.compile(
    r'(meta day \{ "[A-Z][a-z]+"(, "[A-Z][a-z]+")* \})?( ?meta hour \d{1,5}-\d{1,5})?')


def linux_token(value: Any) -> str:
    if isinstance(value, Escaped):
        return value
    text = str(value)
    if not _LINUX_TOKEN.fullmatch(text):
        bad = next(ch for ch in text if not _LINUX_TOKEN.fullmatch(ch))
        raise _refuse("Linux gateway", "a bare value", bad)
    return text


def _string(value: Any, platform: str) -> Escaped:
    text = str(value)
    for ch in text:
        if ch in '"\\' or not ch.isprintable():
            raise _refuse(platform, "a quoted string", ch)
    return Escaped(f'"{text}"')


def nft_string(value: Any) -> Escaped:
    """An nftables quoted string (interface names, comments)."""
    return _string(value, "nftables")


def dnsmasq_string(value: Any) -> Escaped:
    """A dnsmasq quoted option value."""
    return _string(value, "dnsmasq")


def nft_match(value: Any) -> Escaped:
    """A `meta day {...} meta hour A-B` match from the schedule, checked for its shape."""
    text = str(value)
    if not _NFT_MATCH.fullmatch(text):
        raise UnsafeValue("a schedule match is not of the form meta day {...} meta hour ...")
    return Escaped(text)


def conf_comment(value: Any) -> Escaped:
    """Text after `#` in a dnsmasq or nftables file: kept on its line."""
    return Escaped("".join(ch if ch.isprintable() else " " for ch in str(value)))


# --------------------------------------------------------------------------- per platform

FINALIZE: dict[str, Callable[[Any], str]] = {
    "mikrotik_routeros": ros,
    "cisco_ios": ios_word,
    "linux": linux_token,
}
FILTERS: dict[str, dict[str, Callable[..., Any]]] = {
    "mikrotik_routeros": {"ros": ros, "ros_quoted": ros_quoted},
    "cisco_ios": {"ios_text": ios_text},
    "linux": {"nft_string": nft_string, "dnsmasq_string": dnsmasq_string,
              "nft_match": nft_match, "conf_comment": conf_comment},
}


def environment(platform: str, **options: Any) -> jinja2.Environment:
    """A strict Jinja environment for one platform's config templates: every `{{ }}` passes
    the platform's escaping; `| safe` marks macro output, already escaped inside the macro."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False, finalize=FINALIZE[platform], **options)
    env.filters.update(FILTERS[platform])
    env.filters["safe"] = safe
    return env
