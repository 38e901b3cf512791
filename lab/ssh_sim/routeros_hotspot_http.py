"""A simulated RouterOS hotspot's HTTP side: what a citizen's browser meets before and after
login. Served on a loopback port for tests (a real router intercepts the hotspot interface's
HTTP); the client is the host-table entry whose `lab-from` is the connection's peer address.

Behaviour, after MikroTik's manual ("HotSpot customisation", Serving Servlet Pages and
Variables: https://help.mikrotik.com/docs/spaces/ROS/pages/87162881/HotSpot+customisation):
- a request to the hotspot itself (its dns-name or hotspot-address, port 80) is the servlet:
  /login gives login.html (alogin.html when logged in), /status status.html (fstatus.html),
  /logout ends the session and gives logout.html (flogout.html), / goes to login or status;
  pages come from the profile's html-directory in the router's files, and a page missing
  there is a 404 ("If it is not possible to meet a request using the pages stored on the
  router's FTP server, Error 404 is displayed");
- $(name) in a page is replaced by the variable's value, as is (no escaping), unknown ones by
  nothing: $(mac), $(ip), $(link-login-only), $(link-orig), $(link-redirect), $(error) ...;
- a request for another host from a client not logged in: allowed by /ip hotspot walled-garden
  ip (dst-address, protocol, dst-port), else logged in by a MAC cookie when login-by has
  mac-cookie, else rlogin.html, whose $(link-redirect) is the servlet's /login?dst=...;
- a logged-in client's request goes through the forward chain's /ip firewall filter rules
  (first match of src-address, dst-address, protocol, dst-port; a rule with other matchers is
  skipped), and to the gateway's own other ports through the input chain. Passing means the
  lab's idea of the internet: `200` with `X-Simpul-Lab: passed`. A drop closes the connection
  unanswered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.parse import quote as url_quote

from lab.ssh_sim.routeros import RouterOSDevice
from lab.ssh_sim.routeros_files import read_file
from lab.ssh_sim.routeros_hotspot import cookies, ended, items, log_in

VARIABLE_RE = re.compile(r"\$\(([a-z0-9-]+)\)")
SERVLET_PORTS = (80,)
# The demo's citizen (`simpul lab up --hotspot-http-port`): a browser on this machine, whose
# connections come from 127.0.0.1 (the loopback route's source) and whom the portal sees at
# that address, joined the hotspot with this locally administered MAC. A real router's host
# table fills itself as clients join; the lab has no radio, so it is seeded.
DEMO_CITIZEN = {"address": "127.0.0.1", "mac-address": "02:DE:40:00:00:01",
                "lab-from": "127.0.0.1"}


def add_demo_citizen(router: RouterOSDevice) -> None:
    """Put the demo's citizen into the router's /ip hotspot host table (again: idempotent)."""
    from lab.ssh_sim import routeros

    line = "/ip hotspot host add " + " ".join(f"{k}={v}" for k, v in DEMO_CITIZEN.items())
    routeros.execute(router, routeros.parse(line))


async def serve_hotspot(router: RouterOSDevice, host: str, port: int) -> asyncio.Server:
    """Answer the hotspot's HTTP on host:port until the server is closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.readexactly(1), timeout=10)
            if first == b"\x16":  # a TLS handshake (a browser trying https:// first): no HTTP
                return
            head = first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            length = re.search(rb"(?im)^content-length:\s*(\d{1,6})\s*$", head)
            body = await asyncio.wait_for(reader.readexactly(int(length[1])), timeout=10) \
                if length else b""
            peer = writer.get_extra_info("peername")[0]
            # A login may wait for RADIUS: off the event loop.
            answer = await asyncio.to_thread(respond, router, peer, head.decode("latin-1"),
                                             body.decode("latin-1"))
            if answer is not None:
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


def _response(status: int, body: str, headers: dict[str, str] | None = None) -> bytes:
    reason = {200: "OK", 302: "Found", 403: "Forbidden", 404: "Not Found",
              503: "Service Unavailable"}[status]
    data = body.encode("utf-8")
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/html; charset=utf-8",
             f"Content-Length: {len(data)}", "Cache-Control: no-cache", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def respond(router: RouterOSDevice, peer: str, head: str, body: str = "") -> bytes | None:
    """The router's answer to one request (None: dropped, no answer)."""
    request_line, *header_lines = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return _response(403, "bad request")
    target = parts[1]
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in header_lines if ":" in line)}
    host_header = headers.get("host", "")
    form = parse_qs(urlsplit(target).query)
    if parts[0] == "POST":
        form.update(parse_qs(body))
    error = ""
    if urlsplit(target).path == "/login" and "username" in form:
        error = login(router, peer, host_header, form)
        if not error and form.get("dst"):
            return _response(302, "", {"Location": form["dst"][0]})
    with router.lock:
        return _answer(router, peer, host_header, target, error)


def login(router: RouterOSDevice, peer: str, host_header: str,
          form: dict[str, list[str]]) -> str:
    """A login posted to the servlet's /login (username, password: login-by http-pap); the
    error to show on login.html, or "" when the client is now logged in. The local
    /ip hotspot user list first; RADIUS (use-radius=yes) only for a name not found there
    (MikroTik manual, "RADIUS": "The RADIUS server database is consulted only if no matching
    user access record is found in the router's local database")."""
    from lab.ssh_sim import routeros_radius

    with router.lock:
        client = next((h for h in items(router, "/ip hotspot host")
                       if h.get("lab-from") == peer), None)
        profile = routeros_radius.profile_of(router)
        host = (urlsplit("//" + host_header).hostname or "").lower()
        if client is None or host not in {profile.get("dns-name", ""),
                                          profile.get("hotspot-address", "")} - {""}:
            return ""  # not the servlet: _answer says what it is
        if any(a["address"] == client["address"] for a in items(router, "/ip hotspot active")):
            return ""  # already logged in: alogin.html
        if "http-pap" not in profile.get("login-by", "").split(","):
            return "lab: this login needs login-by http-pap (plain-text password)"
        user, password = form["username"][0], form.get("password", [""])[0]
        local = next((u for u in items(router, "/ip hotspot user") if u.get("name") == user),
                     None)
        if local is not None or profile.get("use-radius") != "yes":
            if local is None or local.get("password", "") != password:
                return "invalid username or password"
            log_in(router, user, client["address"], client["mac-address"], "http-pap")
            router.persist()
            return ""
        ip, mac = client["address"], client["mac-address"]
    runtime = routeros_radius.runtime_of(router)
    lab_address = runtime.lab_address if runtime else "127.0.0.1"
    answer, session = routeros_radius.authenticate(router, user, password, ip, mac, lab_address)
    if not answer.accepted:
        return answer.error
    with router.lock:
        rows = items(router, "/ip hotspot active")
        if any(a["address"] == ip for a in rows):
            return ""
        row = {"server": "hotspot1", **routeros_radius.accepted_row(session, answer.attributes,
                                                                    profile),
               "since": int(time.time())}
        rows.append(row)
        router.persist()
    if runtime is not None:
        runtime.started(row)
    return ""


def _answer(router: RouterOSDevice, peer: str, host_header: str, target: str,
            error: str = "") -> bytes | None:
    client = next((h for h in items(router, "/ip hotspot host") if h.get("lab-from") == peer),
                  None)
    if client is None:
        return _response(403, "lab: no hotspot host comes from this address")
    server = next(iter(items(router, "/ip hotspot")), None)
    if server is None:
        return _response(503, "lab: no hotspot on this router")
    profile = next((p for p in items(router, "/ip hotspot profile")
                    if p.get("name") == server.get("profile", "default")), {})
    split = urlsplit("//" + host_header)
    host, port = (split.hostname or "").lower(), split.port or 80
    path = urlsplit(target).path or "/"
    dns_name = profile.get("dns-name", "")
    gateway = profile.get("hotspot-address", "")
    servlet = host in {dns_name, gateway} - {""}
    active = next((a for a in items(router, "/ip hotspot active")
                   if a["address"] == client["address"]), None)
    orig = f"http://{host_header}{target}"
    login_only = f"http://{dns_name or gateway}/login"
    variables = {
        "mac": client["mac-address"], "mac-esc": url_quote(client["mac-address"], safe=""),
        "ip": client["address"], "link-orig": orig, "link-orig-esc": url_quote(orig, safe=""),
        "link-login-only": login_only, "link-login": f"{login_only}?dst={url_quote(orig)}",
        "link-logout": f"http://{dns_name or gateway}/logout",
        "link-status": f"http://{dns_name or gateway}/status",
        "hostname": dns_name or gateway, "server-name": server.get("name", ""),
        "identity": router.identity(),
        "username": active["user"] if active else "", "error": error,
    }
    dst = parse_qs(urlsplit(target).query).get("dst")
    if servlet and dst:  # /login?dst=...: the original request, carried on
        variables.update({"link-orig": dst[0], "link-orig-esc": url_quote(dst[0], safe="")})
    if servlet and port in SERVLET_PORTS:
        return _servlet(router, profile, path, active, client, variables)
    if servlet:
        return _through(router, "input", client["address"], host, port)
    if active is None:
        if _walled_garden(router, host, port):
            return _through(router, "forward", client["address"], host, port)
        if "mac-cookie" in profile.get("login-by", "cookie,http-chap").split(",") and any(
                c["mac-address"] == client["mac-address"] for c in cookies(router)):
            log_in(router, "", client["address"], client["mac-address"], "mac-cookie")
            router.persist()
            return _through(router, "forward", client["address"], host, port)
        variables["link-redirect"] = variables["link-login"]
        return _page(router, profile, "rlogin.html", variables)
    return _through(router, "forward", client["address"], host, port)


def _servlet(router: RouterOSDevice, profile: dict[str, Any], path: str,
             active: dict[str, Any] | None, client: dict[str, Any],
             variables: dict[str, str]) -> bytes:
    if path in ("/", "/login"):
        return _page(router, profile, "alogin.html" if active else "login.html", variables)
    if path == "/status":
        return _page(router, profile, "status.html" if active else "fstatus.html", variables)
    if path == "/logout":
        if active is None:
            return _page(router, profile, "flogout.html", variables)
        rows = items(router, "/ip hotspot active")
        ended(router, [r for r in rows if r["address"] == client["address"]], "User-Request")
        rows[:] = [r for r in rows if r["address"] != client["address"]]
        router.persist()
        return _page(router, profile, "logout.html", variables)
    return _page(router, profile, path.lstrip("/"), variables)


def _page(router: RouterOSDevice, profile: dict[str, Any], name: str,
          variables: dict[str, str]) -> bytes:
    directory = profile.get("html-directory", "flash/hotspot").strip("/")
    if ".." in name.split("/"):
        return _response(404, "Error 404")
    text = read_file(router, f"{directory}/{name}")
    if text is None:
        return _response(404, "Error 404")
    return _response(200, VARIABLE_RE.sub(lambda m: variables.get(m[1], ""), text))


def _passed(host: str, port: int) -> bytes:
    return _response(200, f"lab: passed through to {host}:{port}", {"X-Simpul-Lab": "passed"})


def _walled_garden(router: RouterOSDevice, host: str, port: int) -> bool:
    for entry in items(router, "/ip hotspot walled-garden ip"):
        if entry.get("disabled") == "yes" or entry.get("action", "accept") != "accept":
            continue
        if _rule_matches(entry, None, host, port):
            return True
    return False


def _through(router: RouterOSDevice, chain: str, src: str, host: str, port: int
             ) -> bytes | None:
    """A connection the hotspot lets through, through the filter chain: first match."""
    for rule in items(router, "/ip firewall filter"):
        if rule.get("chain") != chain or rule.get("disabled") == "yes":
            continue
        if not _rule_matches(rule, src, host, port):
            continue
        if rule.get("action", "accept") == "accept":
            break
        if rule.get("action") in ("drop", "reject", "tarpit"):
            return None
    return _passed(host, port)


EVALUATED = {"chain", "action", "comment", "disabled", "src-address", "dst-address",
             "protocol", "dst-port", "hotspot", "server"}


def _rule_matches(rule: dict[str, Any], src: str | None, host: str, port: int) -> bool:
    if set(rule) - EVALUATED or rule.get("hotspot", "auth") != "auth":
        return False  # a matcher the lab does not evaluate: the rule is not applied
    if "src-address" in rule and (src is None or not _in(src, rule["src-address"])):
        return False
    if "dst-address" in rule and not _in(host, rule["dst-address"]):
        return False
    if rule.get("protocol", "tcp") != "tcp":
        return False
    return "dst-port" not in rule or any(_port_in(port, part)
                                         for part in rule["dst-port"].split(","))


def _in(address: str, spec: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        return ip in ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        return False


def _port_in(port: int, spec: str) -> bool:
    low, _, high = spec.partition("-")
    return int(low) <= port <= int(high or low)
