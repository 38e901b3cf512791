"""A two-site inventory (NOC + one office) written to a temp dir, for the bandwidth tests."""

from __future__ import annotations

from pathlib import Path

MINI = """
sites:
- code: noc
  name: NOC
  kind: noc
  address: NOC
  lat: -1.9
  lon: 113.7
  timezone: {tz}
  contact: {{name: NOC}}
  allocation: 1G/1G
- code: kantor
  name: Kantor Uji
  kind: sopd
  address: Jl. Uji 1
  lat: -1.9
  lon: 113.7
  timezone: {tz}
  contact: {{name: Admin}}
  allocation: 20M/10M
{schedule}
devices:
- name: noc-r1
  site: noc
  platform: mikrotik_routeros
  role: border_router
  mgmt_address: 127.0.200.1
  credentials: admin
- name: kantor-r1
  site: kantor
  platform: mikrotik_routeros
  role: office_router
  mgmt_address: 127.0.200.2
  credentials: admin
links:
- name: isp
  a: {{device: noc-r1, interface: ether1}}
  b: {{provider: ISP}}
  capacity: {uplink}
  medium: isp
- a: {{device: noc-r1, interface: ether2}}
  b: {{device: kantor-r1, interface: ether1}}
  capacity: 1G
  medium: fiber
credential_profiles:
- name: admin
  username: simpul
  password_secret: admin_password
{holidays}
"""

OFFICE_SCHEDULE = """  schedule:
  - name: jam-kerja
    days: mon-fri
    times: ["07:30-16:00"]
    allocation: 100%
  - name: luar-jam-kerja
    days: mon-fri
    times: ["00:00-07:30", "16:00-24:00"]
    allocation: 30%
  - name: akhir-pekan
    days: [sat, sun]
    allocation: 5M/2M
  - name: hari-libur
    days: [holiday]
    allocation: 2M/1M
"""

HOLIDAYS = """holidays:
- name: Hari Raya Natal 2026
  date: 2026-12-25
"""


def write_mini(directory: Path, tz: str = "Asia/Jakarta", schedule: str = "",
               uplink: str = "100M", holidays: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inventory.yaml").write_text(
        MINI.format(tz=tz, schedule=schedule, uplink=uplink, holidays=holidays))
    return directory
