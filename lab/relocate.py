"""A copy of an inventory with the lab moved to another loopback block, so a second demo (a
test's `./run`, a test's lab) never meets the demo on 127.0.0.10-58 (:2222 SSH, :1161 SNMP).

Every device's `mgmt_address: 127.0.0.X` becomes X in the block (127.0.N.0/24 -> 127.0.N.X);
`--ssh-port` and `--snmp-port` replace every `mgmt_port` and `snmp_port`. The files are
rewritten line by line, so comments stay and problems still name file:line.

    python -m lab.relocate SOURCE DEST 127.0.123.0/24 [--ssh-port N] [--snmp-port N]
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import shutil
import sys
from pathlib import Path

from controller.inventory import check_inventory

DEMO_BLOCK = ipaddress.IPv4Network("127.0.0.0/24")
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
_ADDRESS = re.compile(r"^(\s*(?:-\s+)?mgmt_address:\s*)127\.0\.0\.(\d{1,3})\b", re.M)


def parse_block(text: str) -> ipaddress.IPv4Network:
    """A /24 on loopback other than the demo's own, e.g. 127.0.123.0/24."""
    try:
        block = ipaddress.IPv4Network(text.strip())
    except ValueError as exc:
        raise ValueError(f"lab address block {text!r}: {exc}") from None
    if block.prefixlen != 24 or not block.subnet_of(LOOPBACK) or block == DEMO_BLOCK:
        raise ValueError(f"lab address block {text!r} must be a /24 on loopback other than "
                         f"the demo's {DEMO_BLOCK}, e.g. 127.0.123.0/24")
    return block


def relocate(source: Path, dest: Path, block: ipaddress.IPv4Network,
             ssh_port: int | None = None, snmp_port: int | None = None) -> None:
    """Write the relocated copy of the inventory `source` to `dest` (replaced if present)."""
    if dest.resolve() == source.resolve():
        raise ValueError(f"{dest}: the relocated copy cannot replace its source")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    base = int(block.network_address)
    for path in sorted(dest.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        new = _ADDRESS.sub(lambda m: f"{m[1]}{ipaddress.IPv4Address(base + int(m[2]))}", text)
        for key, port in (("mgmt_port", ssh_port), ("snmp_port", snmp_port)):
            if port is not None:
                new = re.sub(rf"^(\s*(?:-\s+)?{key}:\s*)\d+", rf"\g<1>{port}", new, flags=re.M)
        if new != text:
            path.write_text(new, encoding="utf-8")
    inventory, _ = check_inventory(dest)
    left = sorted(d.name for d in inventory.devices.values() if d.mgmt_address in DEMO_BLOCK)
    if left:
        raise ValueError(f"{dest}: still on {DEMO_BLOCK} after relocation: {', '.join(left)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.relocate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("block", help="a loopback /24, e.g. 127.0.123.0/24")
    parser.add_argument("--ssh-port", type=int)
    parser.add_argument("--snmp-port", type=int)
    args = parser.parse_args(argv)
    try:
        relocate(args.source, args.dest, parse_block(args.block), args.ssh_port,
                 args.snmp_port)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
