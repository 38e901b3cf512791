"""Device health over SNMP: uptime, CPU, memory and temperature, where the device's MIBs have them.

Sources (OIDs and units from the MIB texts; each platform answers its own subset):
- HOST-RESOURCES-MIB (RFC 2790): hrSystemUptime (TimeTicks, 1/100 s), hrProcessorLoad (INTEGER
  0..100, "the average, over the last minute, of the percentage of time that this processor
  was not idle"), hrStorageTable: the row whose hrStorageType is hrStorageRam
  (1.3.6.1.2.1.25.2.1.2); hrStorageSize/Used count hrStorageAllocationUnits (bytes each).
  RouterOS and net-snmp on Linux answer it; IOS does not.
- MIKROTIK-MIB (MikroTik's mikrotik.mib, mtxrHealth 1.3.6.1.4.1.14988.1.1.3): scalars of
  TEXTUAL-CONVENTION Temperature, DISPLAY-HINT "d-1": tenths of a degree Celsius
  (mtxrHlSensorTemperature 5, mtxrHlCpuTemperature 6, mtxrHlBoardTemperature 7,
  mtxrHlTemperature 10, mtxrHlProcessorTemperature 11).
- CISCO-PROCESS-MIB (Cisco's CISCO-PROCESS-MIB.my, cpmCPUTotalEntry 1.3.6.1.4.1.9.9.109.1.1.1.1):
  cpmCPUTotal5minRev (.8, Gauge32 0..100 percent, over 5 minutes), cpmCPUMemoryUsed (.12) and
  cpmCPUMemoryFree (.13), Gauge32 with UNITS "kilo-bytes".

Cost: which rows exist is found by `discover()` (one short walk, on the poller's name-refresh
cycles only). Every other cycle the few instances it found ride as non-repeaters in the
interface GETBULK the poller sends anyway: no extra request (`instances()`, `decode()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from exporters.snmp_client import END, Oid, Value

HR_SYSTEM_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 25, 1, 1)
HR_STORAGE_RAM: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 1, 2)
HR_STORAGE_TYPE: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 2)
HR_STORAGE_UNITS: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 4)
HR_STORAGE_SIZE: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 5)
HR_STORAGE_USED: Oid = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 6)
HR_PROCESSOR_LOAD: Oid = (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2)

MTXR_HEALTH: Oid = (1, 3, 6, 1, 4, 1, 14988, 1, 1, 3)
# sensor label -> mtxrHealth scalar (tenths of a degree Celsius)
MTXR_TEMPERATURES: dict[str, Oid] = {
    "sensor": (*MTXR_HEALTH, 5),  # mtxrHlSensorTemperature
    "cpu": (*MTXR_HEALTH, 6),  # mtxrHlCpuTemperature
    "board": (*MTXR_HEALTH, 7),  # mtxrHlBoardTemperature
    "system": (*MTXR_HEALTH, 10),  # mtxrHlTemperature
    "processor": (*MTXR_HEALTH, 11),  # mtxrHlProcessorTemperature
}

CPM_CPU_TOTAL_ENTRY: Oid = (1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1)
CPM_CPU_TOTAL_5MIN_REV: Oid = (*CPM_CPU_TOTAL_ENTRY, 8)
CPM_CPU_MEMORY_USED: Oid = (*CPM_CPU_TOTAL_ENTRY, 12)
CPM_CPU_MEMORY_FREE: Oid = (*CPM_CPU_TOTAL_ENTRY, 13)

DISCOVERY_COLUMNS: tuple[Oid, ...] = (HR_STORAGE_TYPE, HR_PROCESSOR_LOAD, CPM_CPU_TOTAL_5MIN_REV)
DISCOVERY_SCALARS: tuple[Oid, ...] = (HR_SYSTEM_UPTIME, *MTXR_TEMPERATURES.values())
MAX_PROCESSORS = 32  # instances asked per cycle; a bigger host's mean is taken over these
MAX_CPM_ROWS = 4
TEMPERATURE_RANGE_C = (-60.0, 200.0)  # outside it a reading is a decoding fault, not weather
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class HealthPlan:
    """Which health instances a device has, as its last discovery found them."""

    hr_uptime: bool = False
    ram_row: int | None = None  # hrStorageIndex of the hrStorageRam row
    processors: tuple[int, ...] = ()  # hrDeviceIndex of hrProcessorTable rows
    cpm_rows: tuple[int, ...] = ()  # cpmCPUTotalIndex
    temperatures: tuple[str, ...] = ()  # keys of MTXR_TEMPERATURES the device answers


@dataclass(frozen=True)
class DeviceHealth:
    """One device's health in one cycle; None (or empty) where its MIBs give nothing."""

    uptime_s: float | None = None
    uptime_source: str = ""  # hrSystemUptime | sysUpTime
    cpu_load_ratio: float | None = None  # 0..1
    cpu_source: str = ""  # hrProcessorLoad (1 min) | cpmCPUTotal5minRev (5 min)
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperatures_c: tuple[tuple[str, float], ...] = ()  # (sensor, degrees Celsius)


def plan_from(scalars: dict[Oid, Value], tables: dict[Oid, dict[int, Value]]) -> HealthPlan:
    """The plan from a discovery walk of DISCOVERY_COLUMNS with DISCOVERY_SCALARS."""
    ram = sorted(index for index, kind in tables.get(HR_STORAGE_TYPE, {}).items()
                 if kind == HR_STORAGE_RAM)
    processors = sorted(index for index, load in tables.get(HR_PROCESSOR_LOAD, {}).items()
                        if isinstance(load, int))
    cpm = sorted(index for index, load in tables.get(CPM_CPU_TOTAL_5MIN_REV, {}).items()
                 if isinstance(load, int))
    return HealthPlan(
        hr_uptime=isinstance(scalars.get(HR_SYSTEM_UPTIME), int),
        ram_row=ram[0] if ram else None,
        processors=tuple(processors[:MAX_PROCESSORS]),
        cpm_rows=tuple(cpm[:MAX_CPM_ROWS]),
        temperatures=tuple(name for name, oid in MTXR_TEMPERATURES.items()
                           if isinstance(scalars.get(oid), int)))


def instances(plan: HealthPlan) -> tuple[Oid, ...]:
    """The exact instance OIDs one cycle reads for this plan."""
    oids: list[Oid] = []
    if plan.hr_uptime:
        oids.append((*HR_SYSTEM_UPTIME, 0))
    if plan.ram_row is not None:
        oids += [(*column, plan.ram_row) for column in
                 (HR_STORAGE_UNITS, HR_STORAGE_SIZE, HR_STORAGE_USED)]
    oids += [(*HR_PROCESSOR_LOAD, index) for index in plan.processors]
    for index in plan.cpm_rows:
        oids += [(*CPM_CPU_TOTAL_5MIN_REV, index), (*CPM_CPU_MEMORY_USED, index),
                 (*CPM_CPU_MEMORY_FREE, index)]
    oids += [(*MTXR_TEMPERATURES[name], 0) for name in plan.temperatures]
    return tuple(oids)


def predecessor(instance: Oid) -> Oid:
    """An OID whose GETNEXT is `instance` in a table indexed by one integer (or a scalar's .0):
    the row before it, or the column itself for index 0."""
    return instance[:-1] if instance[-1] == 0 else (*instance[:-1], instance[-1] - 1)


def _int(value: Value, low: int = 0, high: int = 2**64 - 1) -> int | None:
    return value if isinstance(value, int) and low <= value <= high else None


def decode(plan: HealthPlan, values: dict[Oid, Value],
           sys_uptime_s: float | None) -> tuple[DeviceHealth, bool]:
    """Health from one cycle's instance values; the flag says an instance the plan expects
    was missing (the device changed: discover again)."""
    missing = any(values.get(oid) in (None, END) for oid in instances(plan))
    uptime_s, uptime_source = sys_uptime_s, "sysUpTime" if sys_uptime_s is not None else ""
    hr_uptime = _int(values.get((*HR_SYSTEM_UPTIME, 0)), 0, 2**32 - 1)
    if hr_uptime is not None:  # the host's uptime, not the SNMP agent's
        uptime_s, uptime_source = hr_uptime / 100.0, "hrSystemUptime"

    cpu, cpu_source = None, ""
    loads = [v for v in (_int(values.get((*HR_PROCESSOR_LOAD, i)), 0, 100)
                         for i in plan.processors) if v is not None]
    cpm_loads = [v for v in (_int(values.get((*CPM_CPU_TOTAL_5MIN_REV, i)), 0, 100)
                             for i in plan.cpm_rows) if v is not None]
    if loads:
        cpu, cpu_source = sum(loads) / len(loads) / 100.0, "hrProcessorLoad"
    elif cpm_loads:
        cpu, cpu_source = sum(cpm_loads) / len(cpm_loads) / 100.0, "cpmCPUTotal5minRev"

    used: int | None = None
    total: int | None = None
    if plan.ram_row is not None:
        units = _int(values.get((*HR_STORAGE_UNITS, plan.ram_row)), 1, INT32_MAX)
        size = _int(values.get((*HR_STORAGE_SIZE, plan.ram_row)), 0, INT32_MAX)
        in_use = _int(values.get((*HR_STORAGE_USED, plan.ram_row)), 0, INT32_MAX)
        if units is not None and size is not None and in_use is not None and in_use <= size:
            used, total = in_use * units, size * units
    if total is None and plan.cpm_rows:
        index = plan.cpm_rows[0]  # the first CPU's (the route processor's) memory
        kb_used = _int(values.get((*CPM_CPU_MEMORY_USED, index)), 0, 2**32 - 1)
        kb_free = _int(values.get((*CPM_CPU_MEMORY_FREE, index)), 0, 2**32 - 1)
        if kb_used is not None and kb_free is not None:
            used, total = kb_used * 1024, (kb_used + kb_free) * 1024

    temperatures = []
    for name in plan.temperatures:
        tenths = _int(values.get((*MTXR_TEMPERATURES[name], 0)), -(2**31), INT32_MAX)
        if tenths is None:
            continue
        celsius = tenths / 10.0  # Temperature TC, DISPLAY-HINT "d-1"
        if TEMPERATURE_RANGE_C[0] <= celsius <= TEMPERATURE_RANGE_C[1]:
            temperatures.append((name, celsius))
    health = DeviceHealth(uptime_s=uptime_s, uptime_source=uptime_source, cpu_load_ratio=cpu,
                          cpu_source=cpu_source, memory_used_bytes=used,
                          memory_total_bytes=total, temperatures_c=tuple(temperatures))
    return health, missing
