"""The SNMP poller: interface counters, speed and status of every device, one cycle at a time.

Per device and cycle it sends GETBULKs for only the columns it needs (ifHCInOctets,
ifHCOutOctets, ifHighSpeed, ifOperStatus, with sysUpTime as the non-repeater); ifName, ifAlias
and ifDescr are cached and re-read every `names_refresh_cycles` cycles or when a new ifIndex
appears. Devices are polled concurrently under a bound; each has its own timeout and retries, so
an unreachable one is reported down (`simpul_device_up 0`) without delaying the others.

Consumers (the office-bandwidth rollups) register a callback in `Poller.hooks` (`simpul serve`
passes the running Context's `cycle_hooks`). After each cycle every hook is called
with one `CycleReadings`: `timestamp` (Unix seconds at cycle start) and per device name a
`DeviceReading` with `up`, `sys_uptime_s`, `counter_reset` (sysUpTime went backwards: the device
restarted and its counters with it, so do not subtract the previous reading) and `interfaces`,
each an `InterfaceReading` with `name`, `alias`, `in_octets`, `out_octets` (64-bit counters),
`speed_bps` and `oper_up`. A hook may be a plain function or a coroutine function; an exception
in a hook is logged and does not stop polling.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from controller.inventory import Device, Inventory
from controller.secrets import SecretStore
from exporters import health
from exporters.health import DeviceHealth, HealthPlan
from exporters.snmp_client import END, Oid, PysnmpClient, SnmpClient, SnmpError, Target, Value
from exporters.state import CycleHook, CycleReadings, DeviceReading, InterfaceReading

log = logging.getLogger("simpul.snmp")

SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3)
IF_NUMBER: Oid = (1, 3, 6, 1, 2, 1, 2, 1)
IF_DESCR: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
IF_OPER_STATUS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_IN_ERRORS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 14)  # Counter32 (RFC 2863)
IF_OUT_ERRORS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 20)  # Counter32 (RFC 2863)
IF_NAME: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_HC_IN_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)
IF_HC_OUT_OCTETS: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10)
IF_HIGH_SPEED: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15)
IF_ALIAS: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)

COUNTER_COLUMNS: tuple[Oid, ...] = (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, IF_HIGH_SPEED,
                                    IF_OPER_STATUS)
# Read with the names only (every `names_refresh_cycles`): two more columns every cycle pushed
# a 24-port device's answer past net-snmp's GETBULK limit, a second request per device.
ERROR_COLUMNS: tuple[Oid, ...] = (IF_IN_ERRORS, IF_OUT_ERRORS)
NAME_COLUMNS: tuple[Oid, ...] = (IF_NAME, IF_ALIAS)  # ifDescr only where ifName is missing
COUNTER64_MAX = 2**64 - 1
MAX_REQUESTS_PER_WALK = 400  # a misbehaving agent cannot keep us walking forever


@dataclass
class _DeviceState:
    """What the poller remembers about a device between cycles."""

    names: dict[int, tuple[str, str]] = field(default_factory=dict)  # ifIndex -> (name, alias)
    cycles_since_names: int = 0
    names_stale: bool = True
    last_uptime_s: float | None = None
    interface_count: int = 0
    health_plan: HealthPlan | None = None  # None: discover on the next name refresh
    errors: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class PollerOptions:
    timeout_s: float = 2.0
    retries: int = 1
    concurrency: int = 64
    names_refresh_cycles: int = 10
    max_repetitions: int = 25

    @property
    def device_deadline_s(self) -> float:
        """Upper bound for one device's whole cycle (several requests, each with retries)."""
        return self.timeout_s * (self.retries + 1) * 4 + 1.0


def _text(value: Value) -> str | None:
    if not isinstance(value, bytes):
        return None
    text = value.decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _counter(value: Value) -> int | None:
    return value if isinstance(value, int) and 0 <= value <= COUNTER64_MAX else None


def _counter32(value: Value) -> int | None:
    return value if isinstance(value, int) and 0 <= value <= 2**32 - 1 else None


async def walk_columns(client: SnmpClient, target: Target, columns: tuple[Oid, ...],
                       max_repetitions: int, scalars: tuple[Oid, ...] = (),
                       expected_rows: int = 0, instances: tuple[Oid, ...] = ()
                       ) -> tuple[dict[Oid, Value], dict[Oid, dict[int, Value]]]:
    """GETBULK-walk several table columns side by side, with scalars (e.g. sysUpTime) first.

    The scalars ride in the first request as non-repeaters. Returns ({scalar: value}, {column:
    {ifIndex: value}}). A column ends at the first OID outside it, at endOfMibView, when the
    agent stops increasing OIDs, or (hot path) once it holds `expected_rows` rows: the cached
    table size, re-checked by full walks. When ifNumber is among the scalars, later requests of
    a full walk ask for only the rows still missing plus one (which shows the column's end),
    instead of another `max_repetitions` rows of every column mostly past its end.
    `instances` (exact OIDs in one-integer-index tables) ride as non-repeaters too, each asked
    as GETNEXT of its predecessor; they come back keyed by the instance, only if it exists.
    """
    tables: dict[Oid, dict[int, Value]] = {col: {} for col in columns}
    cursors: dict[Oid, Oid] = {col: col for col in columns}
    pending = list(columns)
    values: dict[Oid, Value] = {}
    first = bool(scalars or instances)
    head = list(scalars) + [health.predecessor(i) for i in instances]
    for _ in range(MAX_REQUESTS_PER_WALK):
        if not pending:
            break
        non_repeaters = len(head) if first else 0
        oids = (head if first else []) + [cursors[c] for c in pending]
        var_binds = await client.get_bulk(target, oids, non_repeaters, max_repetitions)
        if first:
            for scalar, (oid, value) in zip(scalars, var_binds, strict=False):
                if oid == (*scalar, 0) and value is not END:
                    values[scalar] = value
            for instance, (oid, value) in zip(instances, var_binds[len(scalars):len(head)],
                                              strict=False):
                if oid == instance and value is not END:
                    values[instance] = value
            var_binds = var_binds[len(head):]
            first = False
        if not var_binds:
            break
        done: set[Oid] = set()
        width = len(pending)
        for position, (oid, value) in enumerate(var_binds):
            column = pending[position % width]
            if column in done:
                continue
            prefix = len(column)
            if (value is END or oid[:prefix] != column or len(oid) != prefix + 1
                    or oid <= cursors[column]):
                done.add(column)
                continue
            cursors[column] = oid
            tables[column][oid[prefix]] = value
            if expected_rows and len(tables[column]) >= expected_rows:
                done.add(column)
        pending = [c for c in pending if c not in done]
        rows = values.get(IF_NUMBER)
        if pending and isinstance(rows, int) and 0 <= rows <= 100_000:
            missing = rows - min(len(tables[c]) for c in pending)
            max_repetitions = max(1, min(max_repetitions, missing + 1))
    return values, tables


class Poller:
    """Polls the inventory's SNMP-enabled devices; `poll_once()` runs one full cycle."""

    def __init__(self, inventory: Inventory, secrets: SecretStore,
                 options: PollerOptions | None = None, client: SnmpClient | None = None,
                 hooks: list[CycleHook] | None = None,
                 owns: Callable[[str], bool] | None = None):
        self.options = options or PollerOptions()
        self.client = client or PysnmpClient(secrets, self.options.timeout_s,
                                             self.options.retries)
        self.hooks: list[CycleHook] = hooks if hooks is not None else []
        self._owns = owns or (lambda site: True)  # a poller shard's sites
        self._states: dict[str, _DeviceState] = {}
        self._prepared: set[tuple[str, int, str]] = set()  # (address, port, profile)
        self._semaphore = asyncio.Semaphore(self.options.concurrency)
        self.set_inventory(inventory)

    def set_inventory(self, inventory: Inventory) -> None:
        """Take a (re)loaded inventory; devices without an SNMP profile, or at a site another
        shard owns, are not polled."""
        self._targets: dict[str, tuple[Device, Target]] = {}
        for device in inventory.devices.values():
            if device.snmp is None or device.snmp not in inventory.snmp_profiles \
                    or not self._owns(device.site):
                continue
            profile = inventory.snmp_profiles[device.snmp]
            self._targets[device.name] = (device, Target(device.name, str(device.mgmt_address),
                                                         device.snmp_port, profile))

    @property
    def device_names(self) -> list[str]:
        return list(self._targets)

    async def poll_once(self) -> CycleReadings:
        started = time.time()
        t0 = time.monotonic()
        new = {(t.address, t.port, t.profile.name): t for _, t in self._targets.values()}
        for key in self._prepared:
            new.pop(key, None)
        if new:
            await self.client.prepare(list(new.values()))
            self._prepared.update(new)
        readings = await asyncio.gather(*(self._poll_guarded(d, t)
                                          for d, t in self._targets.values()))
        cycle = CycleReadings(timestamp=started, duration_s=time.monotonic() - t0,
                              devices={r.device: r for r in readings})
        await self._run_hooks(cycle)
        return cycle

    async def _run_hooks(self, cycle: CycleReadings) -> None:
        for hook in list(self.hooks):
            try:
                result = hook(cycle)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("poll cycle hook %s failed", getattr(hook, "__name__", hook))

    async def _poll_guarded(self, device: Device, target: Target) -> DeviceReading:
        async with self._semaphore:
            try:
                return await asyncio.wait_for(self._poll_device(device, target),
                                              self.options.device_deadline_s)
            except (SnmpError, TimeoutError) as exc:
                error = str(exc) or "no answer within the device deadline"
            except Exception as exc:  # a bad reply must never stop the loop
                log.exception("device %s: unexpected error while polling", device.name)
                error = f"{type(exc).__name__}: {exc}"
        log.info("device %s (site %s): SNMP poll failed: %s", device.name, device.site, error)
        return DeviceReading(device=device.name, site=device.site, up=False, error=error,
                             polled_at=time.time())

    async def _poll_device(self, device: Device, target: Target) -> DeviceReading:
        state = self._states.setdefault(device.name, _DeviceState())
        opts = self.options
        state.cycles_since_names += 1
        if state.cycles_since_names >= opts.names_refresh_cycles:
            state.names_stale = True
        columns = COUNTER_COLUMNS + (NAME_COLUMNS + ERROR_COLUMNS if state.names_stale else ())
        # Hot path: the table size is known from the last full walk, so ask for exactly that
        # many rows, in as few PDUs as the agent allows. Name refreshes walk to the end and so
        # find added or removed interfaces.
        # A full walk asks for the known table size plus one row, which shows every column's
        # end in the same response; ifNumber sizes the rest of a first walk.
        expected = 0 if state.names_stale else state.interface_count
        if expected:
            repetitions = max(opts.max_repetitions, expected)
        elif state.interface_count:
            repetitions = state.interface_count + 1
        else:
            repetitions = opts.max_repetitions
        scalars = (SYS_UPTIME, IF_NUMBER) if state.names_stale else (SYS_UPTIME,)
        if state.names_stale:
            await self._discover_health(target, state)
        wanted = health.instances(state.health_plan) if state.health_plan else ()
        values, tables = await walk_columns(self.client, target, columns, repetitions,
                                            scalars=scalars, expected_rows=expected,
                                            instances=wanted)
        uptime_raw = values.get(SYS_UPTIME)
        if state.names_stale:
            if not tables[IF_NAME]:  # an agent without ifXTable names: fall back to ifDescr
                _, descr = await walk_columns(self.client, target, (IF_DESCR,),
                                              opts.max_repetitions)
                tables.update(descr)
            self._store_names(device.name, state, tables)

        uptime_s = uptime_raw / 100.0 if isinstance(uptime_raw, int) else None
        reset = (uptime_s is not None and state.last_uptime_s is not None
                 and uptime_s < state.last_uptime_s)
        if reset:
            log.warning("device %s: sysUpTime went backwards (%.0f s -> %.0f s): counters reset",
                        device.name, state.last_uptime_s, uptime_s)
            state.names_stale = True  # a reboot may renumber ifIndex
        if uptime_s is not None:
            state.last_uptime_s = uptime_s

        if IF_IN_ERRORS in tables:
            state.errors = {i: (_counter32(tables[IF_IN_ERRORS].get(i)),
                                _counter32(tables[IF_OUT_ERRORS].get(i)))
                            for i in set(tables[IF_IN_ERRORS]) | set(tables[IF_OUT_ERRORS])}
        indexes = sorted(set().union(*(tables[c].keys() for c in COUNTER_COLUMNS)))
        interfaces = []
        for index in indexes:
            name_alias = state.names.get(index)
            if name_alias is None:
                state.names_stale = True  # a new interface: re-read names next cycle
                name_alias = (f"ifIndex{index}", "")
            oper = tables[IF_OPER_STATUS].get(index)
            speed = _counter(tables[IF_HIGH_SPEED].get(index))
            interfaces.append(InterfaceReading(
                index=index, name=name_alias[0], alias=name_alias[1],
                in_octets=_counter(tables[IF_HC_IN_OCTETS].get(index)),
                out_octets=_counter(tables[IF_HC_OUT_OCTETS].get(index)),
                speed_bps=speed * 1_000_000 if speed is not None else None,
                oper_up=(oper == 1) if isinstance(oper, int) and 1 <= oper <= 7 else None,
                in_errors=state.errors.get(index, (None, None))[0],
                out_errors=state.errors.get(index, (None, None))[1],
            ))
        state.interface_count = len(indexes)
        return DeviceReading(device=device.name, site=device.site, up=True,
                             sys_uptime_s=uptime_s, interfaces=tuple(interfaces),
                             counter_reset=reset, polled_at=time.time(),
                             health=self._health(device, state, values, uptime_s))

    async def _discover_health(self, target: Target, state: _DeviceState) -> None:
        """Find the device's health rows (RAM row, processors, CPU table, sensors): one short
        walk, on name-refresh cycles only; a device that answers none costs one request."""
        scalars, tables = await walk_columns(self.client, target, health.DISCOVERY_COLUMNS,
                                             self.options.max_repetitions,
                                             scalars=health.DISCOVERY_SCALARS)
        state.health_plan = health.plan_from(scalars, tables)

    @staticmethod
    def _health(device: Device, state: _DeviceState, values: dict[Oid, Value],
                sys_uptime_s: float | None) -> DeviceHealth:
        """This cycle's health; a row the plan expects and the device no longer has sends the
        next cycle back to discovery."""
        plan = state.health_plan or HealthPlan()
        reading, missing = health.decode(plan, values, sys_uptime_s)
        if missing:
            log.info("device %s: a health instance went missing: rediscovering", device.name)
            state.names_stale = True
        return reading

    def _store_names(self, device: str, state: _DeviceState,
                     tables: dict[Oid, dict[int, Value]]) -> None:
        names: dict[int, tuple[str, str]] = {}
        indexes = set().union(*(tables[c].keys() for c in (*NAME_COLUMNS, *COUNTER_COLUMNS)))
        descr = tables.get(IF_DESCR, {})
        for index in indexes:
            name = _text(tables[IF_NAME].get(index)) or _text(descr.get(index))
            alias = _text(tables[IF_ALIAS].get(index)) or ""
            names[index] = (name or f"ifIndex{index}", alias)
        first_time = not state.names
        state.names = names
        state.names_stale = False
        # Spread later refreshes over the refresh period, so that not every device re-reads
        # its names in the same cycle (the first cycle after start reads them all).
        period = self.options.names_refresh_cycles
        state.cycles_since_names = (zlib.crc32(device.encode()) % period) if first_time else 0

    async def aclose(self) -> None:
        """Close the SNMP engine; call it from the event loop the poller ran in."""
        await self.client.aclose()
