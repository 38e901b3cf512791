"""Secrets in backed-up configs: masked on real vendor config text, and viewers never see them.

The configs below are written the way each platform prints them, following the examples of the
vendors' own documentation:
- Cisco IOS: "Cisco IOS Security Configuration Guide: Securing User Services" (enable secret,
  username secret, `password 7` on lines), "IP Routing: OSPF Configuration Guide" (OSPF
  authentication examples), "IP Routing: BGP Configuration Guide" (`neighbor password`),
  "Basic System Management Configuration Guide: NTP" (`ntp authentication-key 1 md5 ... 7`),
  "SNMP Configuration Guide" (`snmp-server community`, `snmp-server host ... version 2c`),
  "Internet Key Exchange for IPsec VPNs Configuration Guide" (`crypto isakmp key ... address`),
  "Dial and Access: PPP Configuration Guide" (`ppp chap hostname/password`, `ppp pap
  sent-username`), "Cisco IOS Configuration Guide for Autonomous Aironet Access Points"
  (`wpa-psk ascii`), all at https://www.cisco.com/c/en/us/support/ios-nx-os-software/.
- MikroTik RouterOS v7 `/export show-sensitive`: help.mikrotik.com/docs pages "WireGuard"
  (site-to-site example), "OSPF" (interface-template auth), "BGP" (connection tcp-md5-key),
  "SNMP" (community with v3 passwords), "User", "HotSpot" (user) and "PPP AAA" (secret).
"""

from __future__ import annotations

import subprocess

from fastapi.testclient import TestClient

from controller.backups import BackupRepo, mask
from controller.context import Context
from tests.unit.test_web import client, ctx, log_in  # noqa: F401 - fixtures

IOS_RUNNING = """\
version 15.2
service password-encryption
hostname noc-core
enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
username simpul privilege 15 secret 9 $9$2UqGPsxF6/.5Zx$rMHRXpYNKGt5NEzAnJwZKvp6Yq9PDmpwB0GCT8
username oldadmin password 7 0822455D0A16
password encryption aes
!
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key presharedkey123 address 203.0.113.2
!
key chain OSPF-KEYS
 key 1
  key-string 7 060506324F41
!
interface GigabitEthernet0/1
 ip address 10.0.12.1 255.255.255.252
 ip ospf authentication message-digest
 ip ospf message-digest-key 1 md5 7 045802150C2E
!
interface GigabitEthernet0/2
 ip ospf authentication
 ip ospf authentication-key 7 1511021F0725
!
interface Dialer1
 encapsulation ppp
 ppp authentication chap pap callin
 ppp chap hostname ISP-USER
 ppp chap password 7 13061E010803
 ppp pap sent-username ISP-USER password 7 104D000A0618
!
dot11 ssid WiFi-Kantor
 authentication open
 authentication key-management wpa version 2
 wpa-psk ascii 0 kantor-wifi-2024
!
router bgp 65001
 neighbor 203.0.113.9 remote-as 65002
 neighbor 203.0.113.9 password 7 02050D480809
!
ntp authentication-key 1 md5 121A0C0411045D5679 7
ntp authenticate
ntp trusted-key 1
snmp-server community rahasia-ro RO 10
snmp-server host 10.10.0.5 version 2c trapcomm-1
snmp-server host 10.10.0.6 informs version 2c trapcomm-2 udp-port 1162
radius server RADIUS-1
 address ipv4 10.10.0.7 auth-port 1812 acct-port 1813
 key 7 070C285F4D06
!
line vty 0 4
 password 7 0822455D0A16
 login
"""

IOS_MASKED = """\
version 15.2
service password-encryption
hostname noc-core
enable secret 9 ********
username simpul privilege 15 secret 9 ********
username oldadmin password 7 ********
password encryption aes
!
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key ******** address 203.0.113.2
!
key chain OSPF-KEYS
 key 1
  key-string 7 ********
!
interface GigabitEthernet0/1
 ip address 10.0.12.1 255.255.255.252
 ip ospf authentication message-digest
 ip ospf message-digest-key 1 md5 7 ********
!
interface GigabitEthernet0/2
 ip ospf authentication
 ip ospf authentication-key 7 ********
!
interface Dialer1
 encapsulation ppp
 ppp authentication chap pap callin
 ppp chap hostname ISP-USER
 ppp chap password 7 ********
 ppp pap sent-username ISP-USER password 7 ********
!
dot11 ssid WiFi-Kantor
 authentication open
 authentication key-management wpa version 2
 wpa-psk ascii 0 ********
!
router bgp 65001
 neighbor 203.0.113.9 remote-as 65002
 neighbor 203.0.113.9 password 7 ********
!
ntp authentication-key 1 md5 ******** 7
ntp authenticate
ntp trusted-key 1
snmp-server community ******** RO 10
snmp-server host 10.10.0.5 version 2c ********
snmp-server host 10.10.0.6 informs version 2c ******** udp-port 1162
radius server RADIUS-1
 address ipv4 10.10.0.7 auth-port 1812 acct-port 1813
 key 7 ********
!
line vty 0 4
 password 7 ********
 login
"""

ROUTEROS_EXPORT = """\
# 2026-03-02 10:00:00 by RouterOS 7.16.2
/interface wireguard
add listen-port=13231 mtu=1420 name=wireguard1 private-key=\\
    "yKt9NJ4e5qlaSgh48WnPCDCEkDmq+VsBTt/DDEBWfEo="
/interface wireguard peers
add allowed-address=10.255.255.2/32,192.168.80.0/24 endpoint-address=\\
    192.168.80.1 endpoint-port=13231 interface=wireguard1 name=peer1 \\
    preshared-key="QkVr5o6Y+Iy3Tx/kpVPmX1mZ0vrPMgNfb4pi8aHHRlM=" public-key=\\
    "v/oIzPyFm1FPHrqhytZgsKjU7mUToQHLrW+Tb5e601M="
/ip hotspot user
add name=guest1 password=hotspotpass1 profile=default server=hotspot1
/ppp secret
add name=branch1 password=pppsecret1 profile=default-encryption \\
    remote-address=10.99.0.2 service=pptp
/routing bgp connection
add as=65530 local.role=ebgp name=toISP remote.address=10.155.101.1/32 .as=\\
    65531 tcp-md5-key=bgpsecret1 templates=default
/routing ospf interface-template
add area=backbone-v2 auth=md5 auth-id=1 auth-key=ospfsecret1 disabled=no \\
    interfaces=ether2
/snmp community
set [ find default=yes ] addresses=10.0.0.0/8 name=rahasia-ro
add addresses=10.10.0.5/32 authentication-password=authpass123 \\
    authentication-protocol=SHA1 encryption-password="priv pass 123" \\
    encryption-protocol=AES name=simpulv3 security=private
/snmp
set enabled=yes trap-community=rahasia-ro trap-version=2
/system identity
set name=dinkes-r1
/user
add group=full name=engineer password=userpass1
"""

ROUTEROS_MASKED = """\
# 2026-03-02 10:00:00 by RouterOS 7.16.2
/interface wireguard
add listen-port=13231 mtu=1420 name=wireguard1 private-key=\\
    ********
/interface wireguard peers
add allowed-address=10.255.255.2/32,192.168.80.0/24 endpoint-address=\\
    192.168.80.1 endpoint-port=13231 interface=wireguard1 name=peer1 \\
    preshared-key=******** public-key=\\
    "v/oIzPyFm1FPHrqhytZgsKjU7mUToQHLrW+Tb5e601M="
/ip hotspot user
add name=guest1 password=******** profile=default server=hotspot1
/ppp secret
add name=branch1 password=******** profile=default-encryption \\
    remote-address=10.99.0.2 service=pptp
/routing bgp connection
add as=65530 local.role=ebgp name=toISP remote.address=10.155.101.1/32 .as=\\
    65531 tcp-md5-key=******** templates=default
/routing ospf interface-template
add area=backbone-v2 auth=md5 auth-id=1 auth-key=******** disabled=no \\
    interfaces=ether2
/snmp community
set [ find default=yes ] addresses=10.0.0.0/8 name=********
add addresses=10.10.0.5/32 authentication-password=******** \\
    authentication-protocol=SHA1 encryption-password=******** \\
    encryption-protocol=AES name=******** security=private
/snmp
set enabled=yes trap-community=******** trap-version=2
/system identity
set name=dinkes-r1
/user
add group=full name=engineer password=********
"""


def test_ios_running_config_keeps_everything_but_its_secrets() -> None:
    assert mask(IOS_RUNNING) == IOS_MASKED


def test_routeros_export_keeps_everything_but_its_secrets() -> None:
    assert mask(ROUTEROS_EXPORT) == ROUTEROS_MASKED


def test_masking_is_stable_and_covers_diff_lines() -> None:
    assert mask(IOS_MASKED) == IOS_MASKED and mask(ROUTEROS_MASKED) == ROUTEROS_MASKED
    diff = ("--- running\n+++ intended\n@@ -1,3 +1,3 @@\n"
            "-snmp-server community oldcomm RO\n+snmp-server community newcomm RO\n"
            "-enable secret 5 $1$abcd$efgh\n+ ip ospf message-digest-key 2 md5 newkey\n"
            " /snmp community\n-add addresses=10.0.0.1/32 name=oldv2c\n")
    masked = mask(diff)
    for secret in ("oldcomm", "newcomm", "$1$abcd$efgh", "newkey", "oldv2c"):
        assert secret not in masked
    assert "+snmp-server community ******** RO" in masked and "--- running" in masked


def _commit_as_stored_before(repo: BackupRepo, device: str, text: str) -> str:
    """A commit as an older Simpul stored it, before today's masking rules existed."""
    (repo.path / f"{device}.cfg").write_text(text)
    for args in (["add", "--", f"{device}.cfg"], ["commit", "-q", "-m", f"{device}: backup"]):
        subprocess.run(["git", "-C", str(repo.path), *args], check=True, capture_output=True)
    return subprocess.run(["git", "-C", str(repo.path), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_viewers_get_backup_diffs_masked_operators_and_admins_the_stored_text(
        client: TestClient, ctx: Context) -> None:  # noqa: F811 - fixtures
    repo = BackupRepo(ctx.settings.data_dir / "backups")
    repo.save("noc-core", "hostname noc-core\n", "backup")
    password = ctx.secrets.require("cisco_admin_password")
    old = _commit_as_stored_before(repo, "noc-core", (
        "hostname noc-core\nsnmp-server host 10.10.0.5 version 2c trapcomm-1\n"
        f"username simpul privilege 15 password 0 {password}\n"))
    new = _commit_as_stored_before(repo, "noc-core", (
        "hostname noc-core-2\nsnmp-server host 10.10.0.5 version 2c trapcomm-1\n"
        f"username simpul privilege 15 password 0 {password}\n"
        "ntp authentication-key 1 md5 ntpkey99 7\n"))
    secrets = ("trapcomm-1", password, "ntpkey99")
    api = f"/api/v1/devices/noc-core/backups/diff?old={old}&new={new}"
    page = f"/devices/noc-core?a={old}&b={new}"
    for user, raw in (("siti", False), ("budi", True), ("admin", True)):
        client.cookies.clear()
        log_in(client, user)
        shown = client.get(page)
        assert shown.status_code == 200, shown.text
        body = client.get(api)
        assert body.status_code == 200, body.text
        for text in (shown.text, body.json()):
            assert "+hostname noc-core-2" in text, (user, text)
            assert "+ntp authentication-key 1 md5 " in text and " 7" in text
            assert all((s in text) == raw for s in secrets), (user, text)
