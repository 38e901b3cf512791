"""`simpul users ...`: engineers' accounts in the store."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from controller.cli.common import fail, open_store

users_app = typer.Typer(no_args_is_help=True, help="Engineers' accounts.")


@users_app.command("bootstrap")
def users_bootstrap(username: str = "admin") -> None:
    """Create the first admin if there are no users; print its password once."""
    from controller.store.users import ensure_first_admin

    with open_store() as store, store.session() as session:
        password = ensure_first_admin(session, username)
    if password:
        typer.echo("=" * 64)
        typer.echo(f"First admin created. Username: {username}   Password: {password}")
        typer.echo("Shown once; only its hash is stored. Change it after logging in.")
        typer.echo("=" * 64)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise fail("no TTY to ask for the password: use --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(
        help="viewer, operator, admin, or display (a wall screen: no password, see "
        "`tokens add`)")] = "viewer",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Add an engineer's account (or a wall screen's display account)."""
    from controller.store.users import PASSWORD_ROLES, UserError, add_user

    password = _read_password(password_stdin) if role in PASSWORD_ROLES else ""
    try:
        with open_store() as store, store.session() as session:
            add_user(session, username, password, role, actor="cli")
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"user {username!r} added with role {role}")


@users_app.command("passwd")
def users_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Set an engineer's password (and unlock the account)."""
    from sqlalchemy import select

    from controller.auth import set_password
    from controller.store.models import User
    from controller.store.users import UserError

    password = _read_password(password_stdin)
    try:
        with open_store() as store, store.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"unknown user {username!r}")
            set_password(session, user, password, actor="cli")
            user.locked_until, user.failed_logins = None, 0
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"password of {username!r} changed")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List engineers' accounts."""
    from sqlalchemy import select

    from controller.store.models import User

    with open_store() as store, store.session() as session:
        rows = [{"username": u.username, "role": u.role, "disabled": u.disabled}
                for u in session.scalars(select(User).order_by(User.username))]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['username']:<20} {row['role']:<9} "
                   f"{'disabled' if row['disabled'] else 'active'}")


tokens_app = typer.Typer(no_args_is_help=True, help="Engineers' API tokens.")
users_app.add_typer(tokens_app, name="tokens")


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List API tokens (never the tokens themselves): expiry, last use, status."""
    from controller.auth import list_api_tokens

    with open_store() as store, store.session() as session:
        rows = list_api_tokens(session, username=user)

    def day(moment: datetime | None, empty: str) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else empty

    if as_json:
        typer.echo(json.dumps([{**vars(t), "created_at": t.created_at.isoformat(),
                                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                                "last_used_at": t.last_used_at.isoformat()
                                if t.last_used_at else None} for t in rows], indent=2))
        return
    for t in rows:
        typer.echo(f"{t.id:>5} {t.username:<16} {t.name:<20} {t.status:<8} "
                   f"expires {day(t.expires_at, 'never'):<16} "
                   f"last used {day(t.last_used_at, '-')}")


@tokens_app.command("add")
def tokens_add(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'tv-ruang-rapat'")],
    days: Annotated[int | None, typer.Option(
        help="Lifetime in days (default SIMPUL_API_TOKEN_LIFETIME_DAYS)")] = None,
    never: Annotated[bool, typer.Option(
        "--never", help="Never expires (display accounts only; revoke it to end it)")] = False,
) -> None:
    """Make a token for a user and print it once. For a wall screen: open
    /wall?token=TOKEN; the screen keeps a session cookie tied to the token."""
    from sqlalchemy import select

    from controller.auth import create_api_token, token_expiry
    from controller.settings import get_settings
    from controller.store.models import User
    from controller.store.users import UserError

    if never and days is not None:
        raise fail("give --days or --never, not both")
    lifetime = None if never else days or get_settings().api_token_lifetime_days
    try:
        with open_store() as store, store.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UserError(f"unknown user {username!r}")
            token = create_api_token(session, user, name, actor="cli",
                                     expires_at=token_expiry(lifetime))
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int | None, typer.Argument(help="The token's id (tokens list)")] = None,
    user: Annotated[str | None, typer.Option(help="Revoke every token of this user")] = None,
) -> None:
    """Revoke one API token by id, or every token of --user. Audited."""
    from controller.auth import list_api_tokens, revoke_api_token
    from controller.store.users import UserError

    if (token_id is None) == (user is None):
        raise fail("name a token id or --user (not both)")
    try:
        with open_store() as store, store.session() as session:
            if token_id is not None:
                ids = [token_id]
            else:
                ids = [t.id for t in list_api_tokens(session, username=user)
                       if t.status == "active"]
            for one in ids:
                revoke_api_token(session, one, actor="cli", owner=user)
    except UserError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"revoked {len(ids)} token(s)")
