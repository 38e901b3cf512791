"""bench/snmp: the SNMP poller at regency-and-beyond size, against net-snmp's snmpbulkwalk.

N devices (default 1,000) x 24 interfaces: a network namespace made here holds 24 veth
interfaces (plus lo) and real snmpd agents listening on N loopback addresses (127.1.x.y:161).
Inside that namespace it measures:
  - simpul's poller (pysnmp 7, one engine): wall time of a full cycle (the first, which also
    reads names, and a steady one), client CPU per 1,000 varbinds, controller RSS;
  - the baseline: net-snmp `snmpbulkwalk` of the same four columns of every agent (one process
    per column and device, the same concurrency), wall time and client CPU per 1,000 varbinds;
  - /metrics render time with those readings.
Run as root: `uv run python bench/snmp/bench.py [--devices 1000] [--agents 2]`.
Targets on the 2-core machine: cycle <= 30 s, scrape <= 50 ms (issue #17), RSS <= 300 MB.
Measured 2026-11-24 (quiet): first cycle 16.2 s (was 32.3 s the same morning, 45 s on a loaded
machine: pysnmp rebuilt its transport-to-community map on every answer while targets were still
being added, O(devices^2); the poller now registers every target first), steady cycle 7.9 s vs
snmpbulkwalk 10.3 s, client CPU 74 vs 145 ms per 1,000 varbinds, render 0.61 s, RSS 195 MB.
`--shards 4` also runs 4 poller shard processes at once (sites split as controller/shard.py
does) and prints each one's steady cycle against the same run's snmpbulkwalk. 2026-11-27 (host
busy with another bench): 2,000 devices, one process 35.1 s vs snmpbulkwalk 44.2 s; shards of
500 devices 28.7-33.0 s each (0.65-0.75x): on 2 shared cores, shards do not add capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab.snmpd import SnmpdSpec, snmpd_env, start_snmpd, stop_snmpd  # noqa: E402

INTERFACES = 24
COLUMNS = ("1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.31.1.1.1.15",
           "1.3.6.1.2.1.2.2.1.8")


def address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


# ------------------------------------------------------------------ inside the namespace


def agent_cpu_s(pids: list[int]) -> float:
    """CPU time the snmpd agents have used (they share this machine's two cores)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def udp_out_datagrams() -> int:
    with open("/proc/net/snmp") as fh:
        rows = [line.split() for line in fh if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("OutDatagrams")])


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def measure_simpul(devices: int, community: str, concurrency: int,
                         agents: list[int], timeout_s: float,
                         shard: str | None = None) -> dict[str, float]:
    from prometheus_client import CollectorRegistry, generate_latest

    from controller.inventory import Device, Inventory, SnmpProfile
    from controller.secrets import SecretStore
    from exporters.collectors import InventoryCollector, PollCollector
    from exporters.exposition import Exposition
    from exporters.loop import freeze_long_lived
    from exporters.snmp import Poller, PollerOptions
    from exporters.snmp_client import PysnmpClient
    from exporters.state import LatestReadings

    class CountingClient(PysnmpClient):
        varbinds = 0
        requests = 0

        async def get_bulk(self, target, oids, non_repeaters, max_repetitions):  # type: ignore
            CountingClient.requests += 1
            result = await super().get_bulk(target, oids, non_repeaters, max_repetitions)
            CountingClient.varbinds += len(result)
            return result

    inv = Inventory()
    inv.snmp_profiles["bench"] = SnmpProfile(name="bench", version="v2c", community_secret="c")
    from controller.shard import ALL, Shard

    owner = Shard.parse(shard) if shard else ALL
    for i in range(devices):
        if not owner.owns(f"site{i % 300}"):
            continue  # another poller shard's site (controller/shard.py)
        inv.devices[f"r{i}"] = Device.model_validate(dict(
            name=f"r{i}", site=f"site{i % 300}", platform="linux", role="r",
            mgmt_address=address(i), credentials="x", snmp="bench", snmp_port=161))
    secrets_store = SecretStore({"c": community}, {})
    options = PollerOptions(timeout_s=timeout_s, retries=1, concurrency=concurrency)
    poller = Poller(inv, secrets_store, options,
                    client=CountingClient(secrets_store, options.timeout_s, options.retries))
    out: dict[str, float] = {}
    latest = LatestReadings()
    for label in ("first", "steady", "steady2"):
        CountingClient.varbinds = CountingClient.requests = 0
        udp0 = udp_out_datagrams()
        cpu0, t0, agent0 = time.process_time(), time.perf_counter(), agent_cpu_s(agents)
        cycle = await poller.poll_once()
        out[f"{label}_wall_s"] = time.perf_counter() - t0
        out[f"{label}_cpu_s"] = time.process_time() - cpu0
        out[f"{label}_agent_cpu_s"] = agent_cpu_s(agents) - agent0
        out[f"{label}_requests"] = CountingClient.requests
        # Requests + their retries + the agents' answers: all sent inside this namespace.
        out[f"{label}_datagrams"] = udp_out_datagrams() - udp0
        done = sorted(d.polled_at - cycle.timestamp for d in cycle.devices.values())
        out[f"{label}_device_done_p50_s"] = done[len(done) // 2]
        out[f"{label}_varbinds"] = CountingClient.varbinds
        out[f"{label}_down"] = sum(1 for d in cycle.devices.values() if not d.up)
        out[f"{label}_interfaces"] = sum(len(d.interfaces) for d in cycle.devices.values())
        latest.cycle = cycle
        if label == "first":
            freeze_long_lived()  # as the serve loop does
    await poller.aclose()
    registry = CollectorRegistry()
    registry.register(InventoryCollector(lambda: inv))
    poll_collector = PollCollector(latest, lambda: inv)
    registry.register(poll_collector)
    generate_latest(registry)  # warm
    renders = []
    for _ in range(3):
        t0 = time.perf_counter()
        body = generate_latest(registry)
        renders.append(time.perf_counter() - t0)
    out["render_s"] = min(renders)
    out["render_bytes"] = len(body)
    # What a scrape costs in serve: the cycle's part cached (exporters.exposition), plain and
    # gzip; the first scrape of a cycle builds it.
    exposition = Exposition(registry, [poll_collector])
    t0 = time.perf_counter()
    exposition.render(gzip=True)
    out["first_scrape_s"] = time.perf_counter() - t0
    for kind in ("plain", "gzip"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            served = exposition.render(gzip=kind == "gzip")
            times.append(time.perf_counter() - t0)
        out[f"scrape_{kind}_s"] = min(times)
        out[f"scrape_{kind}_bytes"] = len(served)
    out["rss_mb"] = rss_mb()
    return out


async def measure_snmpbulkwalk(devices: int, community: str, concurrency: int,
                               workdir: Path, agents: list[int]) -> dict[str, float]:
    env = snmpd_env(workdir)
    gate = asyncio.Semaphore(concurrency)
    varbinds = 0
    failures = 0

    async def walk(host: str, column: str) -> None:
        nonlocal varbinds, failures
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                "snmpbulkwalk", "-v2c", "-c", community, "-t", "5", "-r", "1", "-Cr26", "-On",
                "-Oq", f"{host}:161", column, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
            stdout, _ = await proc.communicate()
            if proc.returncode != 0:
                failures += 1
            varbinds += stdout.count(b"\n")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    agent0 = agent_cpu_s(agents)
    t0 = time.perf_counter()
    await asyncio.gather(*(walk(address(i), c) for i in range(devices) for c in COLUMNS))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "varbinds": varbinds, "failures": failures,
            "agent_cpu_s": agent_cpu_s(agents) - agent0}


def inside(args: argparse.Namespace) -> None:
    agents = [int(p) for p in args.agent_pids.split(",")]
    if args.shard:  # one poller shard, a process of its own beside the others
        shard = asyncio.run(measure_simpul(args.devices, args.community, args.concurrency,
                                           agents, args.timeout, shard=args.shard))
        print(json.dumps(shard))
        return
    simpul = asyncio.run(measure_simpul(args.devices, args.community, args.concurrency, agents,
                                        args.timeout))
    base = asyncio.run(measure_snmpbulkwalk(args.devices, args.community, args.concurrency,
                                            Path(args.workdir), agents))
    data: dict[str, object] = {"simpul": simpul, "baseline": base}
    if args.shards > 1:
        data["shards"] = run_shards(args)
    print(json.dumps(data))


def run_shards(args: argparse.Namespace) -> list[dict[str, float]]:
    """`--shards N` poller processes at once (as `serve --only poller --shard i/N` would run),
    each polling its sites' devices; their cycles overlap on the same two cores."""
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--inside", "--shard", f"{i}/{args.shards}",
         "--devices", str(args.devices), "--community", args.community,
         "--concurrency", str(args.concurrency), "--workdir", args.workdir,
         "--timeout", str(args.timeout), "--agent-pids", args.agent_pids],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(1, args.shards + 1)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"shard failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# ------------------------------------------------------------------ setup and report


def report(devices: int, agents: int, data: dict[str, dict[str, float]]) -> str:
    s, b = data["simpul"], data["baseline"]

    def per_k(cpu: float, vbs: float) -> float:
        return 1000 * cpu / vbs if vbs else float("nan")

    steady_k = per_k(s["steady_cpu_s"], s["steady_varbinds"])
    base_k = per_k(b["cpu_s"], b["varbinds"])
    rows = [
        ("devices x interfaces", f"{devices} x {INTERFACES} (+lo)", "", ""),
        ("snmpd agents (processes)", str(agents), "", ""),
        ("first cycle wall (all names)", f"{s['first_wall_s']:.2f} s", "", ""),
        ("  client / snmpd CPU in it", f"{s['first_cpu_s']:.1f} s / "
         f"{s['first_agent_cpu_s']:.1f} s", "", ""),
        ("steady cycle wall", f"{s['steady_wall_s']:.2f} s", f"{b['wall_s']:.2f} s",
         "<= 30 s"),
        ("  snmpd CPU in that cycle", f"{s['steady_agent_cpu_s']:.1f} s",
         f"{b['agent_cpu_s']:.1f} s", ""),
        ("steady cycle varbinds", f"{s['steady_varbinds']:.0f}", f"{b['varbinds']:.0f}", ""),
        ("client CPU per 1,000 varbinds", f"{steady_k * 1000:.0f} ms", f"{base_k * 1000:.0f} ms",
         ""),
        ("  ratio simpul / snmpbulkwalk", f"{steady_k / base_k:.2f}", "1.00", ""),
        ("devices down / failed walks", f"{s['steady_down']:.0f}", f"{b['failures']:.0f}", "0"),
        ("/metrics render", f"{s['render_s'] * 1000:.0f} ms ({s['render_bytes'] / 1e6:.1f} MB)",
         "", "baseline"),
        ("/metrics first scrape of a cycle", f"{s['first_scrape_s'] * 1000:.0f} ms", "", ""),
        ("/metrics scrape (cycle cached)", f"{s['scrape_plain_s'] * 1000:.1f} ms "
         f"({s['scrape_plain_s'] / s['render_s']:.3f}x)", "", "<= 50 ms"),
        ("/metrics scrape, gzip", f"{s['scrape_gzip_s'] * 1000:.1f} ms "
         f"({s['scrape_gzip_bytes'] / 1e6:.2f} MB)", "", "<= 50 ms"),
        ("controller RSS (peak)", f"{s['rss_mb']:.0f} MB", "", "<= 300 MB"),
    ]
    base_wall = b["wall_s"]
    for i, shard in enumerate(data.get("shards", []), start=1):  # type: ignore[attr-defined]
        devices_in = shard["steady_interfaces"] / (INTERFACES + 1)
        rows.append((f"shard {i}/{len(data['shards'])} steady cycle ({devices_in:.0f} devices)",
                     f"{shard['steady_wall_s']:.2f} s "
                     f"({shard['steady_wall_s'] / base_wall:.2f}x)", f"{base_wall:.2f} s", ""))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "simpul (pysnmp 7)", "snmpbulkwalk", "target")
    width = [max(w, len(h)) for w, h in zip(width, head, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, width, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    return "\n".join(out)


def outside(args: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        sys.exit("bench/snmp needs root (network namespace, snmpd on port 161)")
    ns = f"simpul-bench-{secrets.token_hex(3)}"
    community = secrets.token_hex(8)
    procs = []
    with tempfile.TemporaryDirectory(prefix="simpul-bench-snmp-") as tmp:
        try:
            sh("ip", "netns", "add", ns)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            for i in range(0, INTERFACES, 2):  # veth pairs: no dummy module on every kernel
                sh("ip", "netns", "exec", ns, "ip", "link", "add", f"port{i}", "type", "veth",
                   "peer", "name", f"port{i + 1}")
                for name in (f"port{i}", f"port{i + 1}"):
                    sh("ip", "netns", "exec", ns, "ip", "link", "set", name, "up")
            per_agent = -(-args.devices // args.agents)
            for a in range(args.agents):
                hosts = range(a * per_agent, min(args.devices, (a + 1) * per_agent))
                spec = SnmpdSpec(listen=[f"udp:{address(i)}:161" for i in hosts],
                                 communities=[community])
                procs.append(start_snmpd(Path(tmp) / f"agent{a}", spec, netns=ns,
                                         timeout_s=60))
            child = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, __file__, "--inside",
                 "--devices", str(args.devices), "--community", community,
                 "--concurrency", str(args.concurrency), "--workdir", tmp,
                 "--timeout", str(args.timeout), "--shards", str(args.shards),
                 "--agent-pids", ",".join(str(p.pid) for p in procs)],
                capture_output=True, text=True, timeout=1800)
            if child.returncode != 0:
                sys.exit(f"measurement failed:\n{child.stderr[-3000:]}")
            data = json.loads(child.stdout.strip().splitlines()[-1])
        finally:
            for proc in procs:
                stop_snmpd(proc)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    print(report(args.devices, args.agents, data))
    if args.json:
        print(json.dumps(data, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=2, help="snmpd processes")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument("--json", action="store_true", help="also print raw numbers")
    parser.add_argument("--shards", type=int, default=1,
                        help="also run N poller shard processes at once (per-shard cycle)")
    parser.add_argument("--shard", help=argparse.SUPPRESS)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--community", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--agent-pids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    (inside if args.inside else outside)(args)


if __name__ == "__main__":
    main()
