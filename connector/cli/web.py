"""`connector web` (the page for the director and the IB) and its accounts: `web add-user`,
`web remove-user`, `web users` (issue W2-5). The web stack is imported only inside the commands,
so the rest of the CLI, and the idle daemon, never load it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from connector.cli.app import SettingsOption, app
from connector.errors import UsageError

web_app = typer.Typer(
    invoke_without_command=True,
    help="The web page for the director and the IB: `connector web` serves it; its accounts below.",
)
app.add_typer(web_app, name="web")


class Role(StrEnum):
    director = "director"
    ib = "ib"
    ict = "ict"


@web_app.callback()
def web(
    ctx: typer.Context,
    settings: SettingsOption = None,
    host: Annotated[
        str | None, typer.Option("--host", metavar="ADDRESS", help="Listen on this address ([web] host: 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", metavar="PORT", min=0, max=65535, help="Listen on this port ([web] port: 8080)."),
    ] = None,
) -> None:
    """Serve the web page (until Ctrl-C or SIGTERM): the rounds, verslagen, sync runs and health, with "sync now"."""
    if ctx.invoked_subcommand is not None:
        return
    from connector.runtime import start
    from connector.web.server import serve

    runtime = start(settings)
    web_settings = runtime.loaded.settings.web
    serve(
        runtime,
        host=host or web_settings.host,
        port=web_settings.port if port is None else port,
        ready=lambda line: typer.echo(line, err=True),
    )


@web_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to log in with (letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option("--role", help="director and ict may sync now; everyone reads.")],
    settings: SettingsOption = None,
    update: Annotated[
        bool, typer.Option("--update", help="The user exists: set this role and a new password, and unlock it.")
    ] = False,
) -> None:
    """Add an account of the web page. The password is typed twice (or read as two lines from stdin)."""
    from connector.web.accounts import check_new_user

    password = read_password()
    check_new_user(name, role.value, password)  # before the store is opened: a typo costs nothing
    accounts, store = _accounts(settings)
    try:
        created = accounts.add_user(name, role.value, password, now=datetime.now(UTC), update=update)
    finally:
        store.dispose()
    typer.echo(f"{'added' if created else 'updated'} user {name.strip().lower()} ({role.value})")


@web_app.command("remove-user")
def remove_user(name: Annotated[str, typer.Argument(metavar="NAME")], settings: SettingsOption = None) -> None:
    """Remove an account of the web page; its sessions end at once."""
    accounts, store = _accounts(settings)
    try:
        removed = accounts.remove_user(name)
    finally:
        store.dispose()
    if not removed:
        raise UsageError(f"there is no user {name!r}; `connector web users` lists them")
    typer.echo(f"removed user {name.strip().lower()}")


@web_app.command("users")
def users(settings: SettingsOption = None) -> None:
    """The accounts of the web page: name, role, last login, and whether locked after failed logins."""
    accounts, store = _accounts(settings)
    try:
        found = accounts.users()
    finally:
        store.dispose()
    if not found:
        typer.echo("no users yet: `connector web add-user NAME --role director|ib|ict`")
    now = datetime.now(UTC)
    for user in found:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "never"
        locked = (
            f", locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
            if user.locked_until and user.locked_until > now
            else ""
        )
        typer.echo(f"{user.name}  {user.role}  last login {last}{locked}")


def read_password() -> str:
    """The new password: typed twice at a terminal (not echoed), else two lines of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
    else:
        stream = sys.stdin
        first = (stream.readline() if stream else "").rstrip("\r\n")
        second = (stream.readline() if stream else "").rstrip("\r\n")
    if not first:
        raise UsageError("no password given: type it twice, or give it as two lines on standard input")
    if first != second:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def _accounts(settings: str | None):
    from connector.runtime import start
    from connector.store import Store, upgrade_to_head
    from connector.web.accounts import Accounts

    runtime = start(settings)
    upgrade_to_head(runtime.store_url)
    store = Store(runtime.store_url)
    return Accounts(store, runtime.loaded.settings.web), store
