"""Which part of the network a poller process looks after: `simpul serve --only poller
--shard i/n` (DESIGN.md, Processes: scale-out).

Work is divided by site: a site belongs to shard `crc32(site code) mod n + 1`, the same in
every process and on every machine. Everything about a site then has one owner: its devices'
SNMP polls and ICMP probes, its bandwidth rollups (all of a site's counter taps are on its own
devices), its drift checks and holiday pushes, and its hotspots' reaper and reconciler. Shards
never write the same rows, and together they cover every site exactly once.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

SHARD_RE = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")


@dataclass(frozen=True)
class Shard:
    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'2/3' -> Shard(2, 3); ValueError with the expected form otherwise."""
        match = SHARD_RE.match(text or "")
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard must be i/n with 1 <= i <= n (like 2/3), not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @property
    def whole(self) -> bool:
        return self.count == 1

    def owns(self, site: str) -> bool:
        return self.count == 1 or zlib.crc32(site.encode()) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


ALL = Shard()
