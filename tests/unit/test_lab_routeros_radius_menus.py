"""The lab RouterOS's /radius menus refuse what RouterOS refuses (MikroTik manual, "RADIUS":
service ppp|login|hotspot|wireless|dhcp|ipsec|dot1x, require-message-auth
no|yes-for-request-resp, ports 1..65535; require-message-auth only from 7.15, as
community.routeros's model says) and keep the secret out of a plain /export."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.ssh_sim import load_extensions, routeros
from lab.ssh_sim.routeros import RouterOSDevice, RouterOSError
from lab.ssh_sim.state import DeviceState


def _device(tmp_path: Path, version: str) -> RouterOSDevice:
    load_extensions()
    return RouterOSDevice("nas", DeviceState(tmp_path / version, "nas"), version)


def _run(device: RouterOSDevice, line: str) -> str:
    try:
        return routeros.execute(device, routeros.parse(line))
    except RouterOSError as exc:
        return str(exc)


@pytest.mark.parametrize(("line", "message"), [
    ("require-message-auth=yes", "input does not match any value of require-message-auth"),
    ("service=hotspot,foo", "input does not match any value of service"),
    ("authentication-port=70000", "invalid value for argument authentication-port"),
    ("address=radius.example", "invalid value for argument address"),
    ("use-radius=yes", "expected end of command (line 1 column 31)"),
])
def test_radius_add_refuses_what_routeros_refuses(tmp_path: Path, line: str,
                                                  message: str) -> None:
    device = _device(tmp_path, "7.20")
    assert _run(device, f"/radius add address=127.0.0.1 {line}") == message
    assert device.data.get("list", {}).get("/radius", []) == []


def test_require_message_auth_exists_from_7_15(tmp_path: Path) -> None:
    line = "/radius add address=127.0.0.1 service=hotspot require-message-auth=no"
    assert _run(_device(tmp_path, "7.14.3"), line).startswith("expected end of command")
    assert _run(_device(tmp_path, "7.15.3"), line) == ""


def test_secret_is_sensitive_and_defaults_are_omitted(tmp_path: Path) -> None:
    device = _device(tmp_path, "7.20")
    assert _run(device, '/radius add address=127.0.0.1 secret="s3 cret" service=hotspot '
                        "authentication-port=1812 require-message-auth=yes-for-request-resp") == ""
    assert _run(device, "/radius incoming set accept=yes port=3799") == ""
    plain = routeros.export(device, show_sensitive=False)
    assert "/radius\nadd address=127.0.0.1 service=hotspot\n" in plain
    assert "s3 cret" not in plain
    assert 'secret="s3 cret"' in routeros.export(device, show_sensitive=True)
    assert "/radius incoming\nset accept=yes\n" in plain
