"""The citizens' portal app on the portal listener. Nothing of the admin side is mounted here.

Unauthorised clients' HTTP arrives here by the gateway's DNAT, for any host and path: every
request not addressed to the portal itself gets a 302 to the login page. A login is a form POST
answered by 303 to /success: a full page navigation, so OS login sheets show Done.
Client identity is the TCP peer address (routed, never NATed before the NOC) plus the MAC the
gateway reports for it; never a URL parameter.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import logging
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import exc as sa_exc

from captive_portal import chilli, form_tokens
from captive_portal.errors import PortalError, Refusal
from captive_portal.i18n import bytes_text, duration_text, lang_of, t
from captive_portal.intercept import Interceptor
from captive_portal.otp import mask_phone
from captive_portal.pages import render_page
from captive_portal.radius import nas_login_url
from captive_portal.service import Portal, portal_for
from captive_portal.sessions import SessionView, hotspot_timezone
from controller.context import Context
from controller.inventory import Hotspot
from controller.store.db import store_problem, store_unavailable

log = logging.getLogger("simpul.portal")
NO_STORE = {"Cache-Control": "no-store"}
# adapter radius: what the NAS passed to /login (its `mac` and `login`, the hotspot's
# login.html), kept signed for the client until the login POST; the auto-submit script,
# allowed by its hash alone.
NAS_COOKIE = "simpul_nas"
AUTO_SUBMIT = "document.forms.nas.submit();"
AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(AUTO_SUBMIT.encode()).digest()).decode()
# radius.nas chilli: Chilli's redirect (uamip, uamport, challenge, mac), kept signed likewise
CHILLI_COOKIE = "simpul_chilli"
PORTAL_PATHS = {"/login", "/login/click", "/login/voucher", "/login/otp/request",
                "/login/otp/verify", "/success", "/venue", "/api/captive"}


def page_headers(portal_url: str) -> dict[str, str]:
    """Headers of every portal page: self-contained pages (inline style, data: logo, forms to
    the portal itself) that no other site may frame."""
    parts = urlsplit(portal_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    policy = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              f"form-action 'self' {origin}".rstrip() + "; frame-ancestors 'none'; "
              "base-uri 'none'")
    return {**NO_STORE, "Content-Security-Policy": policy, "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _is_chilli(hotspot: Hotspot | None) -> bool:
    return hotspot is not None and hotspot.adapter == "radius" and hotspot.radius is not None \
        and hotspot.radius.nas == "chilli"


def _lang(request: Request, form: dict[str, Any] | None = None) -> str:
    value = (form or {}).get("lang") or request.query_params.get("lang") \
        or request.cookies.get("lang")
    return lang_of(value if isinstance(value, str) else None)


def create_portal_app(ctx: Context) -> FastAPI:
    # Bodies past the limit get 413, counted as they stream in (chunked too), before parsing.
    app = FastAPI(title="Simpul portal", docs_url=None, redoc_url=None, openapi_url=None,
                  max_body_size=ctx.settings.portal_max_body_bytes)
    app.state.ctx = ctx
    portal_url = ctx.settings.portal_url.rstrip("/")
    portal_host = (urlsplit(portal_url).netloc or "").lower()
    login_url = portal_url + "/login"
    headers = page_headers(portal_url)

    def portal() -> Portal:
        return portal_for(ctx)

    def page(request: Request, name: str, *, status: int = 200, lang: str | None = None,
             hotspot: Any = None, **values: Any) -> HTMLResponse:
        lang = lang or _lang(request)
        body = render_page(name, lang=lang, hotspot=hotspot,
                           inventory_dir=ctx.settings.inventory_dir,
                           retention_days=ctx.settings.portal_retention_days,
                           path=request.url.path if request.method == "GET" else "/login",
                           form_token=form_tokens.issue(portal().login.salt,
                                                        _client_ip(request)),
                           **values)
        response = HTMLResponse(body, status_code=status, headers=headers)
        if request.query_params.get("lang") in ("id", "en"):
            response.set_cookie("lang", lang, max_age=86400 * 365, samesite="lax")
        return response

    def error_page(request: Request, exc: PortalError, lang: str, hotspot: Any = None,
                   template: str = "error.html", **values: Any) -> HTMLResponse:
        response = page(request, template, status=exc.status, lang=lang, hotspot=hotspot,
                        error=t(exc.code, lang), **values)
        if exc.status == 503:  # the store or a gateway out of reach: the phone may try again
            response.headers["Retry-After"] = str(exc.retry_after_s
                                                  or ctx.settings.store_retry_after_s)
        return response

    app.add_middleware(Interceptor, portal_host=portal_host, login_url=login_url,
                       portal_paths=PORTAL_PATHS)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "listener": "portal"}

    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def database_down(request: Request, exc: Exception) -> Response:
        """The database is restarting or unreachable: 503 with Retry-After (the phone may
        try again; nothing was recorded), never a 500 with a trace."""
        if not store_unavailable(exc):
            raise exc
        # A database restarting, a full disk: the citizen gets the page, never a trace.
        log.warning("portal %s %s: 503, %s", request.method, request.url.path,
                    store_problem(exc))
        retry = {"Retry-After": str(ctx.settings.store_retry_after_s)}
        if request.url.path == "/api/captive":
            return JSONResponse({"detail": "service unavailable, retry shortly"}, 503,
                                headers={**NO_STORE, **retry})
        return error_page(request, PortalError(Refusal.STORE_UNAVAILABLE, 503), _lang(request))

    @app.get("/login")
    def login_page(request: Request) -> Response:
        hotspot, session = portal().login.status_for_ip(_client_ip(request))
        if hotspot is None:
            return error_page(request, PortalError(Refusal.NOT_ON_HOTSPOT, 403), _lang(request))
        if _is_chilli(hotspot) and "res" in request.query_params:
            return chilli_page(request, hotspot, session)
        nas = (request.query_params.get("mac", ""), request.query_params.get("login", ""))
        if hotspot.adapter == "radius" and all(nas):
            # The NAS sent the browser here: it does not count the client as logged in.
            response = nas_handoff(request, hotspot, session, nas) if session is not None \
                else page(request, "login.html", hotspot=hotspot, modes=hotspot.login_modes)
            response.set_cookie(NAS_COOKIE, seal(request, "nas", quote(nas[0][:32]) + "|"
                                                 + quote(nas[1][:512])),
                                max_age=form_tokens.SEAL_TTL_S, httponly=True, samesite="lax")
            return response
        if session is not None:
            return success(request, hotspot, session)
        return page(request, "login.html", hotspot=hotspot, modes=hotspot.login_modes)

    def seal(request: Request, kind: str, value: str) -> str:
        """A cookie's value signed for this client: the MAC in it came from the NAS, and the
        login names the session by it, so an edited or copied cookie must count for nothing."""
        return form_tokens.seal(portal().login.salt, kind, _client_ip(request), value)

    def unseal(request: Request, kind: str, cookie: str) -> str:
        return form_tokens.unseal(portal().login.salt, kind, _client_ip(request),
                                  request.cookies.get(cookie, "")) or ""

    def nas_cookie(request: Request) -> tuple[str, str] | None:
        mac, _, login = unseal(request, "nas", NAS_COOKIE).partition("|")
        return (unquote(mac), unquote(login)) if mac and login else None

    def nas_handoff(request: Request, hotspot: Hotspot, session: SessionView,
                    nas: tuple[str, str]) -> Response:
        """adapter radius: a one-time credential for the session, posted by the browser to the
        NAS's own login URL (never any other: no open redirect)."""
        lang = _lang(request)
        target = nas_login_url(hotspot, nas[1])
        if target is None or session.client_mac is None:
            return error_page(request, PortalError(Refusal.GATEWAY_ERROR, 400), lang, hotspot)
        credential = portal().radius.issue(session.id, hotspot.name, session.client_mac)
        response = page(request, "nas_login.html", lang=lang, hotspot=hotspot,
                        action=target, method="post",
                        fields=[("username", credential.username),
                                ("password", credential.password),
                                ("dst", f"{portal_url}/success"), ("popup", "false")],
                        auto_submit=AUTO_SUBMIT)
        response.headers["Content-Security-Policy"] = handoff_policy(target)
        return response

    def handoff_policy(target: str) -> str:
        """The hand-off page's policy: its form may go to the NAS's login URL, and only the
        auto-submit script runs."""
        parts = urlsplit(target)
        return page_headers(portal_url)["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}").replace(
            "default-src 'none';", f"default-src 'none'; script-src 'sha256-{AUTO_SUBMIT_HASH}';")

    def uam_secret(hotspot: Hotspot) -> str | None:
        name = hotspot.radius.uam_secret if hotspot.radius is not None else None
        return ctx.secrets.get(name) if name else None

    def chilli_page(request: Request, hotspot: Hotspot, session: SessionView | None) -> Response:
        """radius.nas chilli: Chilli sent the browser here (res=notyet), or back after a logon
        (res=success, already, failed; redir.c redir_reply)."""
        res = request.query_params.get("res", "")
        if res in ("success", "already"):  # what the store knows; the query changes nothing
            if session is not None:
                return success(request, hotspot, session)
            return page(request, "login.html", hotspot=hotspot, modes=hotspot.login_modes)
        secret = uam_secret(hotspot)
        redirect = None if secret is None else chilli.parse_redirect(
            hotspot, dict(request.query_params), request.url.query, _client_ip(request), secret,
            (login_url, str(request.url.replace(query=""))))
        if redirect is None:
            log.info("hotspot %s: a Chilli redirect refused (checksum, address or fields)",
                     hotspot.name)
            return error_page(request, PortalError(Refusal.NAS_LINK, 400), _lang(request),
                              hotspot)
        response: Response
        if res == "failed":
            response = error_page(request, PortalError(Refusal.NAS_REFUSED, 403),
                                  _lang(request), hotspot, "login.html",
                                  modes=hotspot.login_modes)
        elif res == "notyet" and session is not None:
            response = chilli_handoff(request, hotspot, session, redirect)
        else:
            response = page(request, "login.html", hotspot=hotspot, modes=hotspot.login_modes)
        response.set_cookie(CHILLI_COOKIE, seal(request, "chilli", redirect.cookie()),
                            max_age=form_tokens.SEAL_TTL_S, httponly=True, samesite="lax")
        return response

    def chilli_handoff(request: Request, hotspot: Hotspot, session: SessionView,
                       redirect: chilli.ChilliRedirect, lang: str | None = None) -> Response:
        """A one-time credential for the session, its password encoded with the client's
        challenge and the uamsecret; the browser GETs Chilli's logon with it (a form: a
        redirect after the login POST would meet the login page's form-action policy)."""
        lang = lang or _lang(request)
        secret = uam_secret(hotspot)
        if secret is None or session.client_mac is None:
            return error_page(request, PortalError(Refusal.GATEWAY_ERROR, 503), lang, hotspot)
        credential = portal().radius.issue(session.id, hotspot.name, session.client_mac)
        response = page(request, "nas_login.html", lang=lang, hotspot=hotspot,
                        action=redirect.logon_url, method="get",
                        fields=[("username", credential.username),
                                ("password", chilli.encode_password(
                                    credential.password, redirect.challenge, secret)),
                                ("lang", lang)],
                        auto_submit=AUTO_SUBMIT)
        response.headers["Content-Security-Policy"] = handoff_policy(redirect.logon_url)
        return response

    def success(request: Request, hotspot: Hotspot, session: SessionView) -> Response:
        """Time and data left, as the store knows them; the end in the site's zone, named."""
        lang = _lang(request)
        zone = ZoneInfo(hotspot_timezone(ctx, hotspot.name))
        end = session.expires_at.astimezone(zone)
        clock = f"{end:%H:%M} {end.tzname()}"
        return page(request, "success.html", hotspot=hotspot,
                    time_left=duration_text(session.seconds_remaining, lang),
                    until=t("until", lang).format(
                        time=clock.replace(":", ".") if lang == "id" else clock),
                    data_left=None if session.bytes_remaining is None
                    else bytes_text(session.bytes_remaining, lang),
                    public_url=ctx.settings.public_url)

    @app.get("/success")
    def success_page(request: Request) -> Response:
        hotspot, session = portal().login.status_for_ip(_client_ip(request))
        if hotspot is None or session is None:
            return RedirectResponse(login_url, status_code=302, headers=NO_STORE)
        return success(request, hotspot, session)

    @app.get("/venue")
    def venue_page(request: Request) -> Response:
        hotspot = portal().login.hotspot_for(_client_ip(request))
        if hotspot is None:
            return error_page(request, PortalError(Refusal.NOT_ON_HOTSPOT, 403), _lang(request))
        return page(request, "venue.html", hotspot=hotspot, ssid=hotspot.ssid)

    async def read_form(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 256}

    def do_login(request: Request, form: dict[str, str], method: str) -> Response:
        lang = _lang(request, form)
        ip = _client_ip(request)
        hotspot = portal().login.hotspot_for(ip)
        uam = chilli.from_cookie(hotspot, unseal(request, "chilli", CHILLI_COOKIE)) \
            if hotspot is not None and _is_chilli(hotspot) else None
        nas = nas_cookie(request) if hotspot is not None and hotspot.adapter == "radius" \
            and not _is_chilli(hotspot) else None
        try:
            started = portal().login.log_in(
                ip, method, accepted_terms=form.get("accept") == "yes",
                voucher_code=form.get("code", ""), phone=form.get("phone", ""),
                code=form.get("code", ""),
                nas_mac=nas[0] if nas else (uam.mac if uam is not None else ""))
        except PortalError as exc:
            if method == "phone_otp" and exc.code in (Refusal.OTP_WRONG, Refusal.OTP_FORMAT):
                return error_page(request, exc, lang, hotspot, "otp.html",
                                  **otp_values(form.get("phone", "")))
            if hotspot is not None:
                return error_page(request, exc, lang, hotspot, "login.html",
                                  modes=hotspot.login_modes)
            return error_page(request, exc, lang)
        if hotspot is not None and nas is not None:
            return nas_handoff(request, hotspot, started, nas)
        if hotspot is not None and uam is not None:
            return chilli_handoff(request, hotspot, started, uam, lang)
        return RedirectResponse(f"{portal_url}/success?lang={lang}", status_code=303,
                                headers=NO_STORE)

    @app.post("/login")
    async def login_any(request: Request) -> Response:
        """The login form's Enter key (its default button): the way the filled-in field names,
        else click-through; one form with one consent tick serves every way of logging in."""
        form = await read_form(request)
        hotspot = portal().login.hotspot_for(_client_ip(request))
        modes = hotspot.login_modes if hotspot is not None else []
        if form.get("code", "").strip() and "voucher" in modes:
            return await login_voucher_form(request, form)
        if form.get("phone", "").strip() and "phone_otp" in modes:
            return await _threaded(do_otp_request, request, form)
        if "click_through" in modes or hotspot is None:
            return await _threaded(do_login, request, form, "click_through")
        if "voucher" in modes:
            return await login_voucher_form(request, form)
        return await _threaded(do_otp_request, request, form)

    async def login_voucher_form(request: Request, form: dict[str, str]) -> Response:
        if form.get("accept") != "yes":
            return await _threaded(refuse, request, form, Refusal.TERMS_NOT_ACCEPTED)
        return await _threaded(do_login, request, form, "voucher")

    @app.post("/login/click")
    async def login_click(request: Request) -> Response:
        form = await read_form(request)
        return await _threaded(do_login, request, form, "click_through")

    @app.post("/login/voucher")
    async def login_voucher(request: Request) -> Response:
        return await login_voucher_form(request, await read_form(request))

    @app.post("/login/otp/verify")
    async def login_otp(request: Request) -> Response:
        form = await read_form(request)
        return await _threaded(do_login, request, form, "phone_otp")

    def refuse(request: Request, form: dict[str, str], code: Refusal,
               status: int = 400) -> Response:
        lang = _lang(request, form)
        hotspot = portal().login.hotspot_for(_client_ip(request))
        if hotspot is None:
            return error_page(request, PortalError(Refusal.NOT_ON_HOTSPOT, 403), lang)
        return error_page(request, PortalError(code, status), lang, hotspot, "login.html",
                          modes=hotspot.login_modes)

    def do_otp_request(request: Request, form: dict[str, str]) -> Response:
        lang = _lang(request, form)
        ip = _client_ip(request)
        hotspot = portal().login.hotspot_for(ip)
        if not form_tokens.valid(portal().login.salt, ip, form.get("form_token", "")):
            return refuse(request, form, Refusal.FORM_EXPIRED, 403)  # sent from another site?
        if form.get("accept") != "yes":
            return refuse(request, form, Refusal.TERMS_NOT_ACCEPTED)
        try:
            portal().login.request_otp(ip, form.get("phone", ""))
        except PortalError as exc:
            if hotspot is not None and exc.code == Refusal.OTP_RESEND_WAIT:  # the code stands
                return error_page(request, exc, lang, hotspot, "otp.html",
                                  **otp_values(form.get("phone", "")))
            if hotspot is not None:
                return error_page(request, exc, lang, hotspot, "login.html",
                                  modes=hotspot.login_modes)
            return error_page(request, exc, lang)
        return page(request, "otp.html", lang=lang, hotspot=hotspot,
                    **otp_values(form.get("phone", "")))

    def otp_values(phone: str) -> dict[str, Any]:
        """The OTP page's number (as typed, for the forms; masked, for the eye) and how long
        until 'Kirim ulang' (the server refuses a new code before then, too)."""
        return {"phone": phone, "masked_phone": mask_phone(phone),
                "resend_wait": portal().login.resend_wait_s(phone)}

    @app.post("/login/otp/request")
    async def otp_request(request: Request) -> Response:
        form = await read_form(request)
        return await _threaded(do_otp_request, request, form)

    @app.get("/api/captive")
    def captive_api(request: Request) -> Response:
        """RFC 8908 Captive Portal API, for the asking client's address."""
        hotspot, session = portal().login.status_for_ip(_client_ip(request))
        body: dict[str, Any] = {"captive": session is None, "user-portal-url": login_url,
                                "venue-info-url": portal_url + "/venue"}
        if session is not None:
            body["seconds-remaining"] = session.seconds_remaining
            if session.bytes_remaining is not None:
                body["bytes-remaining"] = session.bytes_remaining
            body["can-extend-session"] = False
        if hotspot is None:
            body = {"captive": False}
        return JSONResponse(body, media_type="application/captive+json",
                            headers={"Cache-Control": "private"})

    # The app, the inventory, SQLAlchemy's and pydantic's structures live as long as the process:
    # move them out of the cyclic GC's generations, so a full collection under load does not
    # walk them all (tens of ms of stop-the-world for every request in flight).
    gc.freeze()
    return app


async def _threaded(fn: Any, *args: Any) -> Response:
    """Run a blocking handler (store, gateway SSH) off the event loop."""
    from starlette.concurrency import run_in_threadpool

    result: Response = await run_in_threadpool(fn, *args)
    return result
