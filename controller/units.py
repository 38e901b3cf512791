"""Parse the human units the inventory is written in: rates, allocations, durations, bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE_UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]?)(?:bps)?\s*$")
_BYTE_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BYTES_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"(\d+)\s*([smhd])")


def parse_rate_bps(text: object) -> int:
    """'20M' -> 20_000_000 bits per second. Units are k, M, G, T (powers of 1000)."""
    if isinstance(text, bool):
        raise ValueError(f"bad bandwidth {text!r}")
    if isinstance(text, int):
        if text <= 0:
            raise ValueError(f"bad bandwidth {text!r}: must be positive")
        return text
    match = _RATE_RE.match(str(text))
    if not match:
        raise ValueError(
            f"bad bandwidth {text!r}: write it like 20M or 1.5G "
            "(bits per second; units k, M, G, T)"
        )
    value = round(float(match.group(1)) * _RATE_UNITS[match.group(2)])
    if value <= 0:
        raise ValueError(f"bad bandwidth {text!r}: must be positive")
    return value


def format_rate(bps: int) -> str:
    """20_000_000 -> '20M', the inverse of parse_rate_bps for round values."""
    for unit, factor in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bps >= factor and bps % factor == 0:
            return f"{bps // factor}{unit}"
    return str(bps)


def format_bps(bps: float) -> str:
    """A measured rate with an SI prefix, three significant digits: 1234567 -> '1.23 Mbit/s'
    (the graphs' axis and table; charts.js writes the same form)."""
    rounded = float(f"{bps:.3g}")
    for unit, factor in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(rounded) >= factor:
            return f"{rounded / factor:.3g} {unit}bit/s"
    return f"{rounded:.3g} bit/s"


@dataclass(frozen=True)
class Allocation:
    """A download/upload pair, written '20M/10M' (or '20M' for symmetric)."""

    down_bps: int
    up_bps: int

    @classmethod
    def parse(cls, text: object) -> Allocation:
        if isinstance(text, Allocation):
            return text
        if isinstance(text, dict):
            return cls(parse_rate_bps(text.get("down")), parse_rate_bps(text.get("up")))
        parts = str(text).split("/")
        if len(parts) == 1:
            rate = parse_rate_bps(parts[0])
            return cls(rate, rate)
        if len(parts) != 2:
            raise ValueError(f"bad allocation {text!r}: write it like 20M/10M (down/up)")
        return cls(parse_rate_bps(parts[0]), parse_rate_bps(parts[1]))

    def __str__(self) -> str:
        return f"{format_rate(self.down_bps)}/{format_rate(self.up_bps)}"


def parse_duration_s(text: object) -> int:
    """'2h30m' -> 9000 seconds; a bare integer is seconds."""
    if isinstance(text, bool):
        raise ValueError(f"bad duration {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"bad duration {text!r}: must not be negative")
        return text
    raw = str(text).strip()
    if raw.isdigit():
        return int(raw)
    compact = raw.replace(" ", "")
    parts = _DURATION_RE.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"bad duration {text!r}: write it like 90s, 30m, 2h or 1d12h")
    return sum(int(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_bytes(text: object) -> int:
    """'2G' or '2GB' -> 2_000_000_000 bytes (powers of 1000)."""
    if isinstance(text, bool):
        raise ValueError(f"bad size {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"bad size {text!r}: must not be negative")
        return text
    match = _BYTES_RE.match(str(text))
    if not match:
        raise ValueError(f"bad size {text!r}: write it like 500M or 2G (bytes)")
    return round(float(match.group(1)) * _BYTE_UNITS[match.group(2).upper()])


def format_idr(amount: int) -> str:
    """Whole rupiah as Indonesians write them: 1234567 -> 'Rp 1.234.567' ('-Rp 5' below 0)."""
    text = f"{abs(amount):,}".replace(",", ".")
    return f"-Rp {text}" if amount < 0 else f"Rp {text}"
