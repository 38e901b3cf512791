"""SMS senders for one-time codes: an HTTP webhook (an SMS gateway) or an outbox file."""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx

from controller.secrets import SecretStore
from controller.settings import Settings

_PRUNE_EVERY = timedelta(minutes=1)
_DIGITS = re.compile(r"[0-9]{4,}")  # a code (the hotspot's name keeps its short numbers)


class SmsError(Exception):
    """The message could not be handed to the SMS gateway."""


class SmsSender(Protocol):
    def send(self, phone_e164: str, text: str) -> None: ...


class OutboxSender:
    """Appends one JSON line per message to a private file (the demo and tests read it).

    Personal data (UU PDP): lines older than `keep_days` are dropped, and a line's digits (the
    code) are masked once the code has expired (`mask_after_s`); pruned at most once a minute
    when sending, and by the portal's retention purge.
    """

    def __init__(self, path: Path, *, keep_days: int = 7, mask_after_s: int = 300):
        self.path = path
        self.keep = timedelta(days=keep_days)
        self.mask_after = timedelta(seconds=mask_after_s)
        self._lock = threading.Lock()
        self._pruned_at: datetime | None = None

    def send(self, phone_e164: str, text: str) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"at": now.isoformat(), "to": phone_e164, "text": text})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._file_lock():
            if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY:
                self._prune(now)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def prune(self, now: datetime | None = None) -> None:
        """Apply the retention now."""
        if not self.path.exists():
            return
        with self._lock, self._file_lock():
            self._prune(now or datetime.now(UTC))

    def _prune(self, now: datetime) -> None:
        self._pruned_at = now
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        kept = [line for line in (self._retained(text, now) for text in lines) if line]
        if kept == lines:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def _retained(self, line: str, now: datetime) -> str | None:
        """The line as it may stay (its code masked once expired), or None to drop it."""
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["at"])
        except (ValueError, KeyError, TypeError):
            return None  # not ours: no reason to keep it
        if now - at >= self.keep:
            return None
        if now - at >= self.mask_after and _DIGITS.search(str(entry.get("text", ""))):
            entry["text"] = _DIGITS.sub(lambda m: "*" * len(m.group()), str(entry["text"]))
            return json.dumps(entry)
        return line

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Several portal processes may share one outbox: append and prune take turns."""
        fd = os.open(self.path.with_name(self.path.name + ".lock"),
                     os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class WebhookSender:
    """POSTs {"to", "text"} as JSON; an optional bearer token comes from the secret store."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 10.0):
        self.url = url
        self._token = token
        self._timeout_s = timeout_s

    def send(self, phone_e164: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = httpx.post(self.url, json={"to": phone_e164, "text": text},
                                  headers=headers, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise SmsError(f"SMS webhook: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise SmsError(f"SMS webhook answered HTTP {response.status_code}")


SENDERS = ("outbox", "webhook")


def configured_sender(settings: Settings, secrets: SecretStore) -> SmsSender:
    """The sender SIMPUL_PORTAL_SMS_SENDER names; ValueError for a setting that cannot work."""
    if settings.portal_sms_sender == "webhook":
        if not settings.portal_sms_webhook_url:
            raise ValueError("SIMPUL_PORTAL_SMS_WEBHOOK_URL must be set for the webhook sender")
        return WebhookSender(settings.portal_sms_webhook_url,
                             secrets.get("portal_sms_webhook_token"))
    if settings.portal_sms_sender != "outbox":
        raise ValueError(f"SIMPUL_PORTAL_SMS_SENDER must be outbox or webhook, "
                         f"not {settings.portal_sms_sender!r}")
    return OutboxSender(settings.portal_sms_outbox or settings.data_dir / "sms-outbox.jsonl",
                        keep_days=settings.portal_sms_outbox_retention_days,
                        mask_after_s=settings.portal_otp_ttl_s)
