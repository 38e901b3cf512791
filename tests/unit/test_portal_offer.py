"""The portal says what it offers (issue #18 item 13): one consent tick, the hotspot's limits up
front, time and data left, a masked number with a delayed resend, and no raw refusal code on
any page."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from captive_portal.clock import utcnow
from captive_portal.errors import PortalError, Refusal
from captive_portal.i18n import ERRORS, t
from captive_portal.service import Portal
from controller.store.portal import OtpCode, PortalSession
from tests.conftest import ROOT
from tests.unit.portal_helpers import open_portal
from tests.unit.test_portal_app import ALUN, RANDOM_MAC, TAMAN, TEPIAN, client_for

PHONE = "0812-3456-7890"


@pytest.fixture
def portal(tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> Portal:
    portal, gateways = open_portal(tmp_path, demo_inventory, portal_otp_resend_after_s=60)
    for name, ip in (("taman-kota", TAMAN), ("alun-alun", ALUN), ("tepian-kahayan", TEPIAN)):
        gateways[name].macs[ip] = RANDOM_MAC
    return portal


def _raised_codes() -> list[tuple[str, str]]:
    """Every `PortalError(...)` / `refuse(...)` call in the portal's code, with the source text
    of its code argument."""
    found = []
    for path in sorted((ROOT / "captive_portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("PortalError", "refuse") and node.args:
                arg = node.args[2 if node.func.id == "refuse" else 0]
                found.append((f"{path.name}:{node.lineno}", ast.unparse(arg)))
    return found


def test_every_refusal_code_has_an_indonesian_and_an_english_text() -> None:
    """The registry (Refusal) is the codes the portal can emit: PortalError refuses any other.
    Each has two texts, neither of them the code itself."""
    assert {code.value for code in Refusal} >= {"otp_format", "voucher_unknown"}
    for code in Refusal:
        indonesian, english = ERRORS[code]
        assert indonesian and english and indonesian != english, code
        assert code.value not in indonesian and code.value not in english
        assert t(code.value, "id") == indonesian and t(code.value, "en") == english
    with pytest.raises(ValueError):
        PortalError("some_new_code")
    assert t("some_new_code", "en") == "Invalid request."  # never the raw key


def test_the_portal_raises_only_registered_codes() -> None:
    """Every place that refuses names a Refusal member, never a bare string: a new code cannot
    skip the registry (and with it, its translations)."""
    calls = _raised_codes()
    assert len(calls) >= 25, calls  # the walk finds the portal's refusals
    for where, arg in calls:
        if arg in ("budget.refusal", "code"):  # passes on a code chosen elsewhere (typed)
            continue
        for name in re.findall(r"Refusal\.([A-Z_]+)", arg) or [arg]:
            assert name in Refusal.__members__, f"{where}: {arg} is no Refusal member"


def test_every_refusal_reaches_the_citizen_translated(portal: Portal) -> None:
    """A few refusals through HTTP: the page says it in words, never as a code."""
    client = client_for(portal, ALUN)
    pages = [client.post("/login/voucher", data={"code": "??", "accept": "yes"}),
             client.post("/login/voucher", data={"code": "ABCD-EFGH", "accept": "yes"}),
             client_for(portal, TEPIAN).post("/login/otp/verify",
                                             data={"phone": PHONE, "code": "12"})]
    for page in pages:
        assert page.status_code >= 400
        for code in Refusal:
            assert code.value not in page.text, (code, page.text)
    assert "Kode voucher tidak dikenal" in pages[1].text and "Kode harus 6 angka" in pages[2].text


@pytest.mark.parametrize(("ip", "ways"), [(TAMAN, 1), (ALUN, 2), (TEPIAN, 2)])
def test_one_consent_tick_for_every_way_of_logging_in(portal: Portal, ip: str,
                                                      ways: int) -> None:
    page = client_for(portal, ip).get("/login").text
    assert page.count('type="checkbox"') == 1 and page.count("<form") == 1
    assert page.count("formaction=") == ways
    assert "Saya menyetujui syarat penggunaan di atas untuk semua cara masuk." in page


def test_without_the_tick_no_way_logs_in(portal: Portal, tmp_path: Path) -> None:
    token = re.search(r'name="form_token" value="([^"]+)"',  # type: ignore[union-attr]
                      client_for(portal, TEPIAN).get("/login").text).group(1)
    for ip, action, data in ((ALUN, "/login", {"code": "ABCD-EFGH"}),
                             (ALUN, "/login/voucher", {"code": "ABCD-EFGH"}),
                             (TAMAN, "/login/click", {}), (TAMAN, "/login", {}),
                             (TEPIAN, "/login/otp/request", {"phone": PHONE,
                                                             "form_token": token})):
        refused = client_for(portal, ip).post(action, data=data)
        assert refused.status_code == 400, (action, refused.text)
        assert "Centang persetujuan" in refused.text
    assert portal.stats.list_active_sessions() == []
    assert not (tmp_path / "outbox.jsonl").exists()


def test_the_enter_key_takes_the_way_of_the_field_filled_in(portal: Portal,
                                                            tmp_path: Path) -> None:
    """The form's default button posts to /login: a typed voucher logs in by voucher, a typed
    number asks for a code, nothing typed is click-through."""
    made = portal.vouchers.create_batch(count=1, duration_s=1800, hotspot="alun-alun")
    done = client_for(portal, ALUN).post("/login", data={"code": made.codes[0],
                                                         "accept": "yes"})
    assert done.status_code == 303
    [session] = portal.stats.list_active_sessions("alun-alun")
    assert session.method == "voucher"
    page = client_for(portal, TEPIAN).get("/login").text
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    asked = client_for(portal, TEPIAN).post("/login", data={"phone": PHONE, "accept": "yes",
                                                            "code": "", "form_token": token})
    assert asked.status_code == 200 and "0812****7890" in asked.text
    assert (tmp_path / "outbox.jsonl").exists()
    assert client_for(portal, TAMAN).post("/login", data={"accept": "yes"}).status_code == 303
    assert [s.method for s in portal.stats.list_active_sessions("taman-kota")] == [
        "click_through"]


def test_the_login_page_states_the_hotspots_limits_from_the_inventory(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> None:
    portal, _ = open_portal(tmp_path, demo_inventory)
    client = client_for(portal, TAMAN)
    assert "Gratis 2 jam per sesi, 4 jam dan 2 GB per hari" in client.get("/login").text
    assert "Free 2 hours a session, 4 hours and 2 GB a day" in client.get("/login?lang=en").text

    defaults = demo_inventory / "defaults.yaml"
    text = defaults.read_text()
    text = text.replace("session_timeout: 2h", "session_timeout: 90m", 1)
    text = text.replace("time: 4h", "time: 90m", 1).replace("bytes: 2G", "bytes: 1500M", 1)
    defaults.write_text(text)
    portal, _ = open_portal(tmp_path / "changed", demo_inventory)
    page = client_for(portal, TAMAN).get("/login").text
    assert "Gratis 1 jam 30 menit dan 1,5 GB per hari" in page


def test_the_success_page_shows_time_and_data_left(portal: Portal) -> None:
    client = client_for(portal, TAMAN)
    client.post("/login/click", data={"accept": "yes"})
    [session] = portal.stats.list_active_sessions("taman-kota")
    with portal.store.session() as s:  # the store's counters, as accounting leaves them
        s.execute(update(PortalSession).where(PortalSession.id == session.id).values(
            bytes_down=400_000_000, bytes_up=100_000_000,
            expires_at=utcnow() + timedelta(minutes=75, seconds=30)))
    page = client.get("/success").text
    time_left = re.search(r'id="time-left"><strong>([^<]+)</strong> \(([^)]+)\)', page)
    assert time_left is not None and time_left.group(1) == "1 jam 15 menit"
    assert re.fullmatch(r"sampai pukul \d\d\.\d\d WIB", time_left.group(2))
    assert '<dd id="data-left"><strong>1,5 GB</strong>' in page
    english = client.get("/success?lang=en").text
    assert "1 hour 15 minutes" in english and "Data left today" in english
    assert re.search(r"until \d\d:\d\d WIB", english)


def test_the_otp_page_masks_the_number_and_offers_resend_after_the_delay(
        portal: Portal, tmp_path: Path) -> None:
    client = client_for(portal, TEPIAN)
    token = re.search(r'name="form_token" value="([^"]+)"',  # type: ignore[union-attr]
                      client.get("/login").text).group(1)
    form = {"phone": PHONE, "accept": "yes", "form_token": token}
    page = client.post("/login/otp/request", data=form)
    assert page.status_code == 200
    shown = re.sub(r"<input[^>]*>", "", page.text)  # what the eye sees, not the forms' fields
    assert "0812****7890" in shown and "3456" not in shown
    assert "Kirim ulang kode" in page.text
    assert 'style="animation-delay:60s"' in page.text  # the button appears after the delay
    assert "setelah 60 detik" in page.text

    early = client.post("/login/otp/request", data=form)  # the server keeps the delay too
    assert early.status_code == 429 and "Kode baru belum dapat dikirim" in early.text
    assert 'action="/login/otp/verify"' in early.text  # still the OTP page: the code stands
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 1

    with portal.store.session() as s:
        s.execute(update(OtpCode).values(created_at=utcnow() - timedelta(seconds=61)))
    wrong = client.post("/login/otp/verify", data={"phone": PHONE, "code": "000000"})
    assert "Kirim ulang kode" in wrong.text and "animation-delay" not in wrong.text
    again = client.post("/login/otp/request", data=form)
    assert again.status_code == 200
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 2


def test_a_resend_still_counts_against_the_sms_limits(
        tmp_path: Path, demo_inventory: Path, demo_secrets: Path) -> None:
    portal, gateways = open_portal(tmp_path, demo_inventory, portal_otp_resend_after_s=0,
                                   portal_otp_max_sends_per_hour=2)
    gateways["tepian-kahayan"].macs[TEPIAN] = RANDOM_MAC
    portal.login.request_otp(TEPIAN, PHONE)
    portal.login.request_otp(TEPIAN, PHONE)
    with pytest.raises(PortalError) as limited:
        portal.login.request_otp(TEPIAN, PHONE)
    assert limited.value.code == "otp_send_limit"


def test_a_voucher_sheet_carries_the_ssid_and_three_steps(portal: Portal) -> None:
    made = portal.vouchers.create_batch(count=4, duration_s=3600, hotspot="alun-alun")
    sheet = portal.vouchers.sheet_html(made.batch)
    cards = sheet.split('<div class="v">')[1:]
    assert len(cards) == 4
    for card in cards:
        assert "WiFi (SSID): <b>WiFi-Publik-Alun-Alun</b>" in card
        assert card.count("<li>") == 3 and "Sambungkan HP ke WiFi" in card
        assert "Join the WiFi" in card and "Durasi / Duration: 1 jam / 1 hour" in card
    assert 'id="print-sheet"' not in sheet  # the CLI's file: no UI controls
    anywhere = portal.vouchers.create_batch(count=1, duration_s=3600)
    assert "WiFi-Publik-Pasar" in portal.vouchers.sheet_html(anywhere.batch)
