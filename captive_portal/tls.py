"""The portal's HTTPS certificate: loaded into the listener's TLS context, reloaded in place
when the files change or on SIGHUP (a renewal needs no restart), and its expiry for /metrics."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

log = logging.getLogger("simpul.portal.tls")


def certificate_expiry(path: Path) -> float | None:
    """The first certificate's notAfter as a Unix timestamp, or None if the file is unreadable."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc.timestamp()


class CertificateReloader:
    """Keeps one server SSLContext loaded with the current certificate and key. Loading into the
    same context replaces the pair for new handshakes; open connections keep theirs."""

    def __init__(self, cert: Path, key: Path):
        self.cert, self.key = cert, key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._seen = b""
        self.reload()

    def _digest(self) -> bytes:
        return hashlib.sha256(self.cert.read_bytes() + b"\0" + self.key.read_bytes()).digest()

    def reload(self) -> bool:
        """Load the files if their content changed; raise (ssl.SSLError, OSError) if the pair
        is unusable, leaving the context as it was."""
        digest = self._digest()
        if digest == self._seen:
            return False
        # Try the pair on a scratch context first: a key that does not match the certificate
        # must not leave the serving context half-loaded.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
        self.context.load_cert_chain(self.cert, self.key)
        self._seen = digest
        log.info("portal TLS: loaded %s (expires %s)", self.cert,
                 certificate_expiry(self.cert))
        return True


async def certificate_watch(reloader: CertificateReloader, interval_s: float,
                            on_hup: list[Callable[[], None]] | None = None) -> None:
    """Reload the portal's certificate when its files change (checked every `interval_s`) or at
    once when `on_hup` listeners are called (serve wires them to SIGHUP). A bad pair is logged
    and the last good one stays."""
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    def hup() -> None:
        loop.call_soon_threadsafe(wake.set)

    if on_hup is not None:
        on_hup.append(hup)
    else:
        try:
            loop.add_signal_handler(signal.SIGHUP, wake.set)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        await _watch(reloader, interval_s, wake)
    finally:
        if on_hup is not None and hup in on_hup:
            on_hup.remove(hup)


async def _watch(reloader: CertificateReloader, interval_s: float, wake: asyncio.Event) -> None:
    while True:
        try:
            await asyncio.wait_for(wake.wait(), timeout=interval_s)
        except TimeoutError:
            pass
        wake.clear()
        try:
            await asyncio.to_thread(reloader.reload)
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.error("portal TLS: %s / %s not loaded, the previous certificate stays: %s",
                      reloader.cert, reloader.key, exc)
