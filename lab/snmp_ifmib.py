"""A net-snmp `pass_persist` program serving one lab device's IF-MIB from a JSON spec.

snmpd (started without its own interface modules) hands us GET/GETNEXT for the mib-2 subtree;
we answer ifNumber, ifTable (ifIndex, ifDescr, ifOperStatus, ifInErrors, ifOutErrors: Counter32,
a few per hour on a link that is up) and ifXTable (ifName,
ifHCInOctets, ifHCOutOctets, ifHighSpeed, ifAlias). Counters grow as the integral of a traffic
rate that swings around each interface's base rate, so they only ever increase and the demo's
dashboards show live, changing bandwidth. Stdlib only: it runs as a small child of snmpd.

Spec: {"start": unix_s, "interfaces": [{"index", "name", "alias", "speed_mbps", "in_bps",
"out_bps", "up"}]}
"""

from __future__ import annotations

import bisect
import json
import math
import sys
import time
from collections.abc import Callable

PERIOD_S = 600.0  # one swing of the traffic pattern
SWING = 0.4
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)


def octets(rate_bps: float, elapsed_s: float, phase: float) -> int:
    """Bytes sent at rate*(1+SWING*sin(...)) over elapsed_s: a closed-form integral."""
    w = 2 * math.pi / PERIOD_S
    integral = elapsed_s + SWING / w * (math.cos(phase) - math.cos(w * elapsed_s + phase))
    return int(rate_bps / 8 * integral) % 2**64


def build(spec: dict, now: float) -> dict[tuple[int, ...], tuple[str, str]]:
    elapsed = max(0.0, now - float(spec["start"]))
    table: dict[tuple[int, ...], tuple[str, str]] = {
        IF_NUMBER: ("integer", str(len(spec["interfaces"])))}
    for i, iface in enumerate(spec["interfaces"]):
        idx = int(iface["index"])
        up = bool(iface.get("up", True))
        table[(*IF_ENTRY, 1, idx)] = ("integer", str(idx))
        table[(*IF_ENTRY, 2, idx)] = ("string", iface["name"])
        table[(*IF_ENTRY, 8, idx)] = ("integer", "1" if up else "2")
        errors_per_hour = float(iface.get("errors_per_hour", 2.0)) if up else 0.0
        table[(*IF_ENTRY, 14, idx)] = ("counter", str(int(elapsed / 3600 * errors_per_hour)
                                                      % 2**32))
        table[(*IF_ENTRY, 20, idx)] = ("counter", str(int(elapsed / 7200 * errors_per_hour)
                                                      % 2**32))
        table[(*IFX_ENTRY, 1, idx)] = ("string", iface["name"])
        table[(*IFX_ENTRY, 6, idx)] = ("counter64", str(
            octets(iface["in_bps"], elapsed, i * 0.7) if up else 0))
        table[(*IFX_ENTRY, 10, idx)] = ("counter64", str(
            octets(iface["out_bps"], elapsed, i * 0.7 + 1.3) if up else 0))
        table[(*IFX_ENTRY, 15, idx)] = ("gauge", str(int(iface["speed_mbps"])))
        table[(*IFX_ENTRY, 18, idx)] = ("string", iface.get("alias", ""))
    return table


def parse(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.strip().strip(".").split(".") if p)


def main() -> None:
    serve(build)


def serve(build_table: Callable[[dict, float], dict[tuple[int, ...], tuple[str, str]]]) -> None:
    """The pass_persist protocol on stdin/stdout over the table `build_table(spec, now)` gives
    for the JSON spec named by argv[1] (shared with lab/snmp_health.py)."""
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    out = sys.stdout
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        command = line.strip().lower()
        if command == "ping":
            out.write("PONG\n")
        elif command in ("get", "getnext"):
            oid = parse(sys.stdin.readline())
            table = build_table(spec, time.time())
            keys = sorted(table)
            if command == "get":
                found = oid if oid in table else None
            else:
                at = bisect.bisect_right(keys, oid)
                found = keys[at] if at < len(keys) else None
            if found is None:
                out.write("NONE\n")
            else:
                kind, value = table[found]
                out.write("." + ".".join(map(str, found)) + f"\n{kind}\n{value}\n")
        elif command == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        else:
            out.write("NONE\n")
        out.flush()


if __name__ == "__main__":
    main()
