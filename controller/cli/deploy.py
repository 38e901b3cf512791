"""`simpul deploy ...`: configuration files for the daemons around Simpul, rendered from the
templates in deploy/ and the secrets file, so that no secret is ever committed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from controller.cli.common import fail, load_secrets
from controller.secrets import SecretStore

deploy_app = typer.Typer(no_args_is_help=True, help="Render deployment files from secrets.")
ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER_TEMPLATE = ROOT / "deploy" / "alertmanager" / "alertmanager.yml.tmpl"
TELEGRAM_RECEIVER, WEBHOOK_RECEIVER = "telegram-noc", "webhook"


class RenderError(ValueError):
    pass


def render_alertmanager(template_text: str, secrets: SecretStore,
                        *, telegram_api_url: str | None = None) -> str:
    """The real alertmanager.yml: the template with the Telegram token and chat and the webhook
    URL filled in as YAML values (never pasted as text, so no value can change the structure).
    `telegram_api_url` points the receiver elsewhere (tests: a fake Bot API on loopback)."""
    config: dict[str, Any] = yaml.safe_load(template_text)
    token = secrets.get("telegram_bot_token")
    chat = secrets.get("telegram_chat_id")
    webhook = secrets.get("alertmanager_webhook_url")
    missing = [name for name, value in (("telegram_bot_token", token),
                                        ("telegram_chat_id", chat),
                                        ("alertmanager_webhook_url", webhook)) if not value]
    if missing:
        raise RenderError(f"secrets missing for Alertmanager: {', '.join(missing)} (add them "
                          f"to the secrets file, or SIMPUL_SECRET_<NAME> in the environment)")
    try:
        chat_id = int(str(chat).strip())
    except ValueError:
        raise RenderError(f"secret telegram_chat_id: {chat!r} is not an integer chat id "
                          f"(a group's id is negative, like -1001234567890)") from None
    if not str(webhook).startswith(("http://", "https://")):
        raise RenderError("secret alertmanager_webhook_url must be an http:// or https:// URL")
    receivers = {r["name"]: r for r in config.get("receivers", [])}
    try:
        telegram = receivers[TELEGRAM_RECEIVER]["telegram_configs"][0]
        hook = receivers[WEBHOOK_RECEIVER]["webhook_configs"][0]
    except (KeyError, IndexError, TypeError):
        raise RenderError(f"{ALERTMANAGER_TEMPLATE.name}: receivers {TELEGRAM_RECEIVER!r} "
                          f"(telegram_configs) and {WEBHOOK_RECEIVER!r} (webhook_configs) "
                          f"are needed") from None
    telegram["bot_token"], telegram["chat_id"] = token, chat_id
    if telegram_api_url:
        telegram["api_url"] = telegram_api_url
    hook["url"] = webhook
    header = ("# Rendered by `simpul deploy alertmanager` from deploy/alertmanager/"
              "alertmanager.yml.tmpl. Holds secrets: keep it mode 600, out of git.\n")
    return header + yaml.safe_dump(config, sort_keys=False)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, replacing the old one at once."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(temp, 0o600)
    os.replace(temp, path)


@deploy_app.command("alertmanager")
def deploy_alertmanager(
    out: Annotated[Path, typer.Option(help="Where to write alertmanager.yml (mode 600)")],
    template: Annotated[Path, typer.Option(help="The template")] = ALERTMANAGER_TEMPLATE,
) -> None:
    """Render Alertmanager's config from deploy/alertmanager/ and the secrets file. Then
    `amtool check-config OUT` and reload Alertmanager (SIGHUP or POST /-/reload)."""
    try:
        text = render_alertmanager(template.read_text(), load_secrets())
    except (OSError, RenderError, yaml.YAMLError) as exc:
        raise fail(f"{template}: {exc}") from None
    write_private(out, text)
    typer.echo(f"wrote {out} (mode 600)")
