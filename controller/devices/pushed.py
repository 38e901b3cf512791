"""The record of what Simpul pushed to a device: the intent's lines, kept beside the backups.

A platform negates only lines of this record that the intent no longer has. The record lives
in git, so a line holding a secret is stored masked, with a salted scrypt digest of the whole
line: a running line is Simpul's own only if it fits the masked text and matches the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass

MASK = "********"
DIGEST_TAG = "\t# line-digest "
HEADER = "# Lines Simpul pushed to this device (written after each successful push).\n"
# scrypt cost: a digest is checked only for running lines that fit a masked record line.
_N, _R, _P = 2 ** 14, 8, 1


def digest(line: str, salt: bytes | None = None) -> str:
    """`scrypt$<salt>$<hash>` of one config line (hex), salted per line."""
    salt = salt if salt is not None else os.urandom(16)
    value = hashlib.scrypt(line.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${salt.hex()}${value.hex()}"


def digest_matches(line: str, stored: str) -> bool:
    try:
        kind, salt, _ = stored.split("$")
        expected = digest(line, bytes.fromhex(salt))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(expected, stored)


@dataclass(frozen=True)
class RecordedLine:
    """One pushed line (indentation kept); `digest` is set when `text` is masked."""

    text: str
    digest: str | None = None

    def matches(self, line: str) -> bool:
        """Whether a running line is this pushed line (for a masked one: fits and digests)."""
        if self.digest is None:
            return line == self.text
        pattern = "^" + ".+?".join(re.escape(part) for part in self.text.split(MASK)) + "$"
        return re.match(pattern, line) is not None and digest_matches(line, self.digest)


def render_record(lines: list[str], masked: list[str]) -> str:
    """The record file's text: `masked[i]` is `lines[i]` after masking."""
    out = [HEADER]
    for line, shown in zip(lines, masked, strict=True):
        out.append(shown + (DIGEST_TAG + digest(line) if shown != line else "") + "\n")
    return "".join(out)


def parse_record(text: str | None) -> list[RecordedLine]:
    if not text:
        return []
    found = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        body, _, stored = line.partition(DIGEST_TAG)
        found.append(RecordedLine(body.rstrip(), stored.strip() or None))
    return found
