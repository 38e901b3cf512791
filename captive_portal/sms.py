"""SMS senders for one-time codes: an HTTP webhook (an SMS gateway) or an outbox file."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from controller.secrets import SecretStore
from controller.settings import Settings


class SmsError(Exception):
    """The message could not be handed to the SMS gateway."""


class SmsSender(Protocol):
    def send(self, phone_e164: str, text: str) -> None: ...


class OutboxSender:
    """Appends one JSON line per message to a private file (the demo and tests read it)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def send(self, phone_e164: str, text: str) -> None:
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "to": phone_e164, "text": text})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")


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
    return OutboxSender(settings.portal_sms_outbox or settings.data_dir / "sms-outbox.jsonl")
