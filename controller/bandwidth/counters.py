"""Counter readings to byte deltas: 64-bit (or 32-bit) wraps and device reboots handled."""

from __future__ import annotations

from dataclasses import dataclass

MAX_GAP_S = 3600.0          # a longer silence starts afresh instead of guessing
MAX_RATE_BPS = 400e9        # above this a delta is a counter discontinuity, not traffic


@dataclass(frozen=True)
class Reading:
    """One interface's octet counters at one poll (uptime_s from sysUpTime, if known)."""

    device: str
    interface: str
    at: float
    in_octets: int
    out_octets: int
    uptime_s: float | None = None
    counter_bits: int = 64
    speed_bps: int | None = None  # ifHighSpeed, for the interface graphs


@dataclass(frozen=True)
class Delta:
    """Bytes counted in (start, end], in and out of the interface."""

    device: str
    interface: str
    start: float
    end: float
    in_bytes: int
    out_bytes: int


def _wrapped(previous: int, current: int, bits: int) -> int:
    return current - previous if current >= previous else current + (1 << bits) - previous


def counter_delta(previous: Reading, current: Reading) -> Delta | None:
    """The traffic between two readings, or None when it cannot be known.

    - uptime went backwards (the device restarted): the counters started again from zero at
      the restart, so the current values are the bytes since then, counted from
      max(previous poll, now - uptime); bytes between the previous poll and the restart are lost.
    - a counter went backwards without a restart: it wrapped (2^64, or 2^32 for 32-bit ones).
    """
    elapsed = current.at - previous.at
    if elapsed <= 0 or elapsed > MAX_GAP_S:
        return None
    start = previous.at
    restarted = (current.uptime_s is not None and previous.uptime_s is not None
                 and current.uptime_s < previous.uptime_s and current.uptime_s <= elapsed + 1)
    if restarted:
        assert current.uptime_s is not None
        start = max(previous.at, current.at - current.uptime_s)
        in_bytes, out_bytes = current.in_octets, current.out_octets
    else:
        in_bytes = _wrapped(previous.in_octets, current.in_octets, current.counter_bits)
        out_bytes = _wrapped(previous.out_octets, current.out_octets, current.counter_bits)
    span = max(current.at - start, 1e-3)
    if max(in_bytes, out_bytes) * 8 / span > MAX_RATE_BPS:
        return None
    return Delta(current.device, current.interface, start, current.at, in_bytes, out_bytes)


class CounterTracker:
    """Remembers the last reading per interface and turns each new one into a Delta."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], Reading] = {}

    def update(self, reading: Reading) -> Delta | None:
        key = (reading.device, reading.interface)
        previous = self.last.get(key)
        if previous is not None and reading.at <= previous.at:
            return None  # a repeated or late reading changes nothing
        self.last[key] = reading
        return counter_delta(previous, reading) if previous is not None else None
