"""The portal by its own DNS name over HTTPS: settings, DHCP option 114 and the RFC 8908 API
(RFC 8908 section 2: the API and user-portal-url are https URLs; RFC 8910: option 114 carries
the API's URI), the certificate's reload and its expiry metric."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from captive_portal.app import create_portal_app
from captive_portal.tls import CertificateReloader, certificate_expiry
from controller.configs import render_intended_config
from controller.hotspot_gateway import captive_api_url
from controller.inventory import check_inventory
from controller.secrets import SecretStore
from controller.settings import Settings, get_settings
from exporters.collectors import PortalCertificateCollector
from tests.conftest import DEMO_INVENTORY
from tests.unit.portal_helpers import open_portal

NAME = "portal.wifi.kualakahayan.go.id"


@pytest.mark.parametrize("value", ["10.10.0.5", "::1", "[2001:db8::1]"])
def test_an_ip_literal_is_not_a_portal_name(value: str) -> None:
    with pytest.raises(ValidationError, match="is an IP address: the portal needs a DNS name"):
        Settings(portal_name=value)


@pytest.mark.parametrize("value", ["portal", "-bad-.example.id", "portal..example.id",
                                   "porta l.example.id", "x.123"])
def test_a_malformed_portal_name_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="is not a DNS name"):
        Settings(portal_name=value)


def test_the_portal_url_derives_from_the_name() -> None:
    assert Settings(portal_name=NAME).portal_url == f"https://{NAME}:8443"
    assert Settings(portal_name=NAME.upper() + ".", portal_tls_listen="0.0.0.0:443"
                    ).portal_url == f"https://{NAME}"
    with pytest.raises(ValidationError, match="must name the portal by SIMPUL_PORTAL_NAME"):
        Settings(portal_name=NAME, portal_url="http://10.10.0.5:8080")
    with pytest.raises(ValidationError, match="go together"):
        Settings(portal_tls_cert=Path("/x/cert.pem"))


def test_option_114_refuses_an_ip_literal_or_plain_http() -> None:
    assert captive_api_url(f"https://{NAME}:8443") == f"https://{NAME}:8443/api/captive"
    assert captive_api_url(None) is None
    for bad in ("https://10.10.0.5:8443", f"http://{NAME}:8080", "https://[::1]"):
        with pytest.raises(ValueError, match="never an IP address"):
            captive_api_url(bad)


@pytest.fixture
def named(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SIMPUL_PORTAL_NAME", NAME)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _render(device: str, demo_secrets: Path) -> str:
    inventory, _ = check_inventory(DEMO_INVENTORY)
    return render_intended_config(inventory, inventory.devices[device],
                                  SecretStore.load(demo_secrets))


def test_both_gateways_send_the_api_by_name_over_https_in_option_114(
        named: None, demo_secrets: Path) -> None:
    linux = _render("taman-kota-gw", demo_secrets)
    assert f'dhcp-option=114,"https://{NAME}:8443/api/captive"' in linux
    routeros = _render("alun-alun-gw", demo_secrets)
    # RouterOS: a string option value is single-quoted inside the value (MikroTik manual, DHCP,
    # "DHCP Options": value="'text'")
    value = f"""value="'https://{NAME}:8443/api/captive'\""""
    assert f"add code=114 name=simpul-captive-portal {value}" in routeros
    assert "dhcp-option=simpul-captive-portal" in routeros
    assert "10.10.0.5:8080/api/captive" not in linux + routeros


def test_without_a_portal_name_no_option_114_is_sent(demo_secrets: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMPUL_PORTAL_NAME", raising=False)
    get_settings.cache_clear()
    try:
        linux, routeros = _render("taman-kota-gw", demo_secrets), _render("alun-alun-gw",
                                                                          demo_secrets)
    finally:
        get_settings.cache_clear()
    assert "dhcp-option=114" not in linux and "code=114" not in routeros
    assert "simpul-captive-portal" not in routeros  # no reference to an option not made


def test_the_captive_api_gives_the_https_login_url_by_name(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> None:
    portal, gateways = open_portal(tmp_path, demo_inventory, portal_name=NAME,
                                   portal_url=f"https://{NAME}:8443")
    gateways["taman-kota"].macs["10.200.0.25"] = "06:1a:2b:3c:4d:5e"
    client = TestClient(create_portal_app(portal.ctx), base_url=f"https://{NAME}:8443",
                        client=("10.200.0.25", 40000), follow_redirects=False)
    body = client.get("/api/captive").json()
    assert body["user-portal-url"] == f"https://{NAME}:8443/login"
    assert body["venue-info-url"] == f"https://{NAME}:8443/venue"


# -- the certificate: reload in place, expiry ---------------------------------------------

def _openssl_cert(directory: Path, name: str, days: int) -> tuple[Path, Path]:
    """A self-signed pair made by openssl (not by the code under test)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", str(days), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return cert, key


def _openssl_enddate(cert: Path) -> float:
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
                         check=True, capture_output=True, text=True).stdout
    text = out.strip().split("=", 1)[1]  # e.g. "Dec 27 12:00:00 2027 GMT"
    return dt.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=dt.UTC).timestamp()


def _served_cert(context: ssl.SSLContext, name: str) -> bytes:
    """The certificate a real TLS client sees from a server using `context`."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def accept() -> None:
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        client = ssl.create_default_context()
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(listener.getsockname()) as raw, \
                client.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
        thread.join(timeout=5)
    assert der is not None
    return der


def _der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_a_renewed_certificate_is_served_and_a_broken_one_is_not(tmp_path: Path) -> None:
    cert, key = _openssl_cert(tmp_path / "a", NAME, 30)
    live_cert, live_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    reloader = CertificateReloader(live_cert, live_key)
    first = _der(live_cert)
    assert _served_cert(reloader.context, NAME) == first
    assert reloader.reload() is False  # unchanged files: nothing to do

    new_cert, new_key = _openssl_cert(tmp_path / "b", NAME, 90)
    live_key.write_bytes(new_key.read_bytes())  # a key without its certificate: refused
    with pytest.raises(ssl.SSLError):
        reloader.reload()
    assert _served_cert(reloader.context, NAME) == first
    live_cert.write_bytes(new_cert.read_bytes())
    assert reloader.reload() is True
    assert _served_cert(reloader.context, NAME) == _der(new_cert) != first


def test_the_expiry_metric_is_the_certificates_not_after(tmp_path: Path) -> None:
    cert, _ = _openssl_cert(tmp_path, NAME, 45)
    expected = _openssl_enddate(cert)
    assert certificate_expiry(cert) == expected
    assert certificate_expiry(tmp_path / "missing.pem") is None
    registry = CollectorRegistry()
    registry.register(PortalCertificateCollector(lambda: certificate_expiry(cert)))
    [sample] = [line for line in generate_latest(registry).decode().splitlines()
                if line.startswith("simpul_portal_tls_cert_expiry_timestamp_seconds ")]
    assert float(sample.split()[1]) == expected
    empty = CollectorRegistry()
    empty.register(PortalCertificateCollector(None))
    assert "\nsimpul_portal_tls_cert_expiry_timestamp_seconds " not in \
        generate_latest(empty).decode()
