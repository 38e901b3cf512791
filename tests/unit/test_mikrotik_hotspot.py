"""A MikroTik hotspot gateway's rendered intent: its own DNS name, no cookie logins, a walled
garden on the portal's ports only, client firewall rules, and the pages the push uploads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from controller.configs import render_intended_config
from controller.devices import routeros_files
from controller.devices.base import IntentError
from controller.devices.mikrotik_routeros import parse
from controller.inventory import Inventory, load_inventory
from controller.secrets import SecretStore

ROOT = Path(__file__).resolve().parents[2]
LOGIN_VARIABLES = ("$(mac)", "$(ip)", "$(link-orig)", "$(link-login-only)", "$(error)")


@pytest.fixture
def demo(demo_secrets: Path) -> tuple[Inventory, SecretStore]:
    secrets = SecretStore.load(demo_secrets)
    return load_inventory(ROOT / "inventory", secrets), secrets


def _intent(demo: tuple[Inventory, SecretStore], name: str = "alun-alun-gw") -> str:
    inventory, secrets = demo
    return render_intended_config(inventory, inventory.devices[name], secrets)


def test_hotspot_profile_names_the_inventory_dns_name_and_has_no_cookie_login(demo) -> None:  # type: ignore[no-untyped-def]
    config = parse(_intent(demo), intent=True)
    [profile] = config.items["/ip hotspot profile"]
    assert profile["dns-name"] == "wifi-alun-alun.kualakahayan.go.id"
    assert profile["html-directory"] == "simpul"
    assert set(profile["login-by"].split(",")) == {"http-pap"}  # no cookie, no mac-cookie
    [user_profile] = config.items["/ip hotspot user profile"]
    assert user_profile["add-mac-cookie"] == "no"


def test_walled_garden_opens_only_the_portals_http_and_https_ports(demo) -> None:  # type: ignore[no-untyped-def]
    config = parse(_intent(demo), intent=True)
    assert "/ip hotspot walled-garden" not in config.items  # no host entry on any port
    garden = config.items["/ip hotspot walled-garden ip"]
    assert sorted((g["dst-address"], g["protocol"], g["dst-port"], g.get("action", "accept"))
                  for g in garden) == [("10.10.0.5", "tcp", "8080", "accept"),
                                       ("10.10.0.5", "tcp", "8443", "accept")]


def test_logged_in_clients_are_kept_from_the_backbone_and_the_gateway(demo) -> None:  # type: ignore[no-untyped-def]
    rules = parse(_intent(demo), intent=True).items["/ip firewall filter"]
    mine = [r for r in rules if r.get("src-address") == "10.200.4.0/22"]
    forward = [(r["action"], r.get("dst-address"), r.get("dst-port")) for r in mine
               if r["chain"] == "forward"]
    assert forward == [("accept", "10.10.0.5", "8080,8443"), ("drop", "10.0.0.0/8", None),
                       ("drop", "172.16.0.0/12", None), ("drop", "192.168.0.0/16", None),
                       ("drop", "100.64.0.0/10", None), ("drop", "169.254.0.0/16", None)]
    # (the demo's protected_ranges, inventory/defaults.yaml; fc00::/7 is IPv6: /ipv6 firewall)
    inputs = [(r["action"], r.get("protocol"), r.get("dst-port")) for r in mine
              if r["chain"] == "input"]
    assert inputs == [("accept", "udp", "53,67"), ("accept", "tcp", "53"),
                      ("drop", None, None)]


def test_the_pages_travel_with_the_intent_and_login_html_passes_the_variables(demo) -> None:  # type: ignore[no-untyped-def]
    _, files = routeros_files.split(_intent(demo))
    assert {"simpul/login.html", "simpul/alogin.html", "simpul/status.html",
            "simpul/logout.html", "simpul/error.html", "simpul/rlogin.html"} <= set(files)
    assert not any(name.startswith("simpul/_") for name in files)
    login = files["simpul/login.html"] or ""
    assert 'action="http://10.10.0.5:8080/login" method="get"' in login
    for variable in LOGIN_VARIABLES:
        assert f'value="{variable}"' in login
    assert 'content="0; url=$(link-redirect)"' in (files["simpul/rlogin.html"] or "")
    # An office router has no pages.
    assert routeros_files.split(_intent(demo, "setda-r1"))[1] == {}


def test_inventory_text_in_a_page_cannot_become_a_routeros_variable(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    hotspot = inventory.hotspots["alun-alun"]
    branding = hotspot.branding.model_copy(update={"title": 'Taman $(link-orig) "<b>'})
    dirty = dataclasses.replace(inventory, hotspots={
        **inventory.hotspots, "alun-alun": hotspot.model_copy(update={"branding": branding})})
    text = render_intended_config(dirty, dirty.devices["alun-alun-gw"], secrets)
    login = routeros_files.split(text)[1]["simpul/login.html"] or ""
    assert "Taman &#36;(link-orig) &#34;&lt;b&gt;" in login
    assert login.count("$(link-orig)") == 1  # only the template's own


def test_file_sections_round_trip_and_plan_only_what_differs() -> None:
    intent = "/ip dns\nset servers=1.1.1.1\n### file: simpul/a.html\n<p>a</p>\n" \
             "### file: simpul/b.html\n<p>b</p>\n"
    config, files = routeros_files.split(intent)
    assert config == "/ip dns\nset servers=1.1.1.1\n"
    assert files == {"simpul/a.html": "<p>a</p>\n", "simpul/b.html": "<p>b</p>\n"}
    running = routeros_files.sections({"simpul/a.html": "<p>a</p>\n", "simpul/b.html": None})
    assert routeros_files.split(running)[1] == {"simpul/a.html": "<p>a</p>\n",
                                                "simpul/b.html": None}
    diff, actions = routeros_files.plan(files, routeros_files.split(running)[1])
    assert actions == [("write", "simpul/b.html", "<p>b</p>\n")]
    assert "+<p>b</p>" in diff
    with pytest.raises(IntentError, match="relative to the router's file root"):
        routeros_files.split("### file: ../etc/passwd\nx\n")
