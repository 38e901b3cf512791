"""A net-snmp `pass_persist` program serving a simulated device's health MIBs from a JSON spec.

Only what the real platform answers (the poller must cope with the rest missing):
- routeros: HOST-RESOURCES-MIB (RFC 2790) hrSystemUptime, hrStorageTable with RouterOS's rows
  65536 "main memory" (hrStorageRam) and 131072 "system disk" (hrStorageFixedDisk), 1 KiB
  allocation units, and hrProcessorLoad per core from index 1 (as field tools and Zabbix's
  "Mikrotik SNMP" template read them: hrStorageSize/Used.65536, hrProcessorLoad.1); and
  MIKROTIK-MIB mtxrHealth scalars mtxrHlVoltage (8), mtxrHlTemperature (10) and
  mtxrHlProcessorTemperature (11), Voltage/Temperature TCs with DISPLAY-HINT "d-1" (tenths).
- ios: CISCO-PROCESS-MIB cpmCPUTotalTable row 1 (cpmCPUTotal5secRev/1minRev/5minRev percent,
  cpmCPUMemoryUsed/Free in kilo-bytes, Cisco's CISCO-PROCESS-MIB.my); no HOST-RESOURCES-MIB.
Values swing slowly with time around a per-device level, so pages and graphs move. Stdlib only.

Spec: {"platform": "mikrotik_routeros" | "cisco_ios", "seed": int, "boot": unix_s}
"""

from __future__ import annotations

import math
import sys

import snmp_ifmib  # type: ignore[import-not-found]  # beside this file when snmpd runs it

HR = (1, 3, 6, 1, 2, 1, 25)
HR_STORAGE_ENTRY = (*HR, 2, 3, 1)
HR_PROCESSOR_LOAD = (*HR, 3, 3, 1, 2)
MTXR_HEALTH = (1, 3, 6, 1, 4, 1, 14988, 1, 1, 3)
CPM_ENTRY = (1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1)
HR_STORAGE_RAM = ".1.3.6.1.2.1.25.2.1.2"
HR_STORAGE_FIXED_DISK = ".1.3.6.1.2.1.25.2.1.4"

Table = dict[tuple[int, ...], tuple[str, str]]


def _swing(seed: int, now: float, period_s: float = 900.0) -> float:
    """-1..1, slowly, with a per-device phase."""
    return math.sin(2 * math.pi * now / period_s + seed % 628 / 100)


def routeros(seed: int, now: float, boot: float) -> Table:
    ram_kib = (262_144, 1_048_576)[seed % 2]  # hEX 256 MiB, RB4011 1 GiB
    cores = (2, 4)[seed % 2]
    table: Table = {(*HR, 1, 1, 0): ("timeticks", str(int((now - boot) * 100) % 2**32))}
    rows = ((65536, HR_STORAGE_RAM, "main memory", ram_kib,
             int(ram_kib * (0.35 + 0.1 * _swing(seed, now)))),
            (131072, HR_STORAGE_FIXED_DISK, "system disk", 131_072, 41_000 + seed % 5000))
    for index, kind, descr, size, used in rows:
        table[(*HR_STORAGE_ENTRY, 1, index)] = ("integer", str(index))
        table[(*HR_STORAGE_ENTRY, 2, index)] = ("objectid", kind)
        table[(*HR_STORAGE_ENTRY, 3, index)] = ("string", descr)
        table[(*HR_STORAGE_ENTRY, 4, index)] = ("integer", "1024")
        table[(*HR_STORAGE_ENTRY, 5, index)] = ("integer", str(size))
        table[(*HR_STORAGE_ENTRY, 6, index)] = ("integer", str(used))
    for core in range(1, cores + 1):
        load = 8 + seed % 20 + 3 * core + int(6 * _swing(seed + core * 170, now, 300.0))
        table[(*HR_PROCESSOR_LOAD, core)] = ("integer", str(max(0, min(100, load))))
    board = 380 + seed % 90 + int(20 * _swing(seed, now, 1800.0))  # tenths of a degree
    table[(*MTXR_HEALTH, 8, 0)] = ("integer", str(240 + seed % 5))  # 24.x V
    table[(*MTXR_HEALTH, 10, 0)] = ("integer", str(board))
    table[(*MTXR_HEALTH, 11, 0)] = ("integer", str(board + 120))
    return table


def ios(seed: int, now: float, boot: float) -> Table:
    busy = 3 + seed % 12 + int(2 * _swing(seed, now, 300.0))
    used_kb = 90_000 + seed % 20_000 + int(3_000 * _swing(seed, now))
    free_kb = 524_288 - used_kb  # a 512 MB switch
    table: Table = {(*CPM_ENTRY, 1, 1): ("gauge", "1"), (*CPM_ENTRY, 2, 1): ("integer", "1001")}
    for column in (6, 7, 8):  # 5secRev, 1minRev, 5minRev
        table[(*CPM_ENTRY, column, 1)] = ("gauge", str(max(0, min(100, busy + 8 - column))))
    table[(*CPM_ENTRY, 12, 1)] = ("gauge", str(used_kb))
    table[(*CPM_ENTRY, 13, 1)] = ("gauge", str(free_kb))
    return table


def build(spec: dict, now: float) -> Table:
    platform = {"mikrotik_routeros": routeros, "cisco_ios": ios}[spec["platform"]]
    return platform(int(spec["seed"]), now, float(spec["boot"]))


if __name__ == "__main__":
    sys.exit(snmp_ifmib.serve(build))
