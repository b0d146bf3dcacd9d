"""The app's longer actions: copy as curl, export, replay, route and pin pickers (changes go to the proxy
as commands)."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from rich.text import Text

from ..clipboard import copy_with_tool, osc52_arrives
from ..config import ConfigError, state_dir
from ..export import curl_command, default_export_path, write_jsonl
from ..flow import Flow
from ..proxy.replay import ReplayResult
from ..proxy.replay import replay as replay_request
from ..secrets import private_dir, write_private
from .dialogs.route_picker import UNSET, RoutePicker
from .dialogs.text import TextModal
from .screens.inspector import ReplayView

if TYPE_CHECKING:
    from ..proxy.session import Session
    from .app import CcmApp


def pick_route(app: CcmApp, route: str) -> None:
    current = app.config.router.routes.get(route)

    def chosen(value: str | None) -> None:
        if value is not None:
            app.set_route(route, None if value == UNSET else value)

    app.push_screen(RoutePicker(f"Route {route!r} → ? (now: {current or 'default'})", app._models(), current,
                                None if route == "default" else "(unset: use the default route)",
                                list(app.config.providers)), chosen)


def pick_pin(app: CcmApp) -> None:
    def chosen(value: str | None) -> None:
        if value is not None and value != UNSET:
            app.set_pin(value)

    app.push_screen(RoutePicker("Pin every request to… (session only)", app._models(), None,
                                providers=list(app.config.providers)), chosen)


def run_command(app: CcmApp, action: Callable[[Session], Coroutine[Any, Any, str]], failure: str) -> None:
    """Send a command to the proxy; its result (or why it changed nothing) is notified."""

    async def wait() -> None:
        try:
            message = await asyncio.wrap_future(app.server.command(action))
        except (ConfigError, OSError, RuntimeError) as exc:
            app.notify(f"{failure}: {exc}", severity="error", markup=False)
        else:
            app.notify(message, markup=False)

    app.run_worker(wait(), group="commands")


def copy_curl(app: CcmApp, flow: Flow) -> None:
    """The request as curl: to a clipboard tool, else OSC 52, and always to a private file that runs it
    (with this session's proxy token, which the command on screen only names)."""
    client_auth = app.config.client_auth_provider() is not None
    command = curl_command(flow, app.server.base_url, app.redactor, client_auth=client_auth)
    app.copy_to_clipboard(command)  # OSC 52; whether it arrives is said below
    variable = "CCM_TOKEN" if client_auth else "ANTHROPIC_AUTH_TOKEN"
    path = state_dir() / "exports" / f"curl-{flow.id}.sh"

    def copy() -> None:
        tool = copy_with_tool(command)
        arrived, how = (True, f"copied with {tool}") if tool else osc52_arrives()
        try:
            private_dir(path.parent, tighten=True)
            write_private(path, f"#!/bin/sh\n# request #{flow.id}, re-sent to ccm-tui's proxy (0600: holds this "
                                f"session's proxy token, valid while it runs)\n{variable}={shlex.quote(app.server.token.reveal())}"
                                f"\nexport {variable}\n" + command)
            saved = f"runnable with the token: sh {path}"
        except OSError as exc:
            saved = f"not saved: {exc}"
        app.call_from_thread(_show_curl, app, command, how, arrived, saved, variable)

    app.run_worker(copy, thread=True, group="curl")


def _show_curl(app: CcmApp, command: str, how: str, arrived: bool, saved: str, variable: str) -> None:
    head = Text.assemble((how, "" if arrived else "bold yellow"), "\n", (saved, "bold"), "\n",
                         (f"the token is ${variable} (claude's pane has it; the file sets it)\n", "dim"))
    app.push_screen(TextModal("curl — " + ("copied" if arrived else "NOT copied: see the file"), head,
                              Text(command, no_wrap=True, overflow="ignore")))


def export_session(app: CcmApp, session_id: str | None) -> None:
    flows = [f for f in reversed(app.store.newest_first()) if session_id is None or f.session_id == session_id]
    path = default_export_path(session_id)

    def write() -> None:
        try:
            count = write_jsonl(flows, path, app.redactor)
        except OSError as exc:
            app.call_from_thread(app.notify, f"export failed: {exc}", severity="error", markup=False)
            return
        app.call_from_thread(app.notify, f"exported {count} records to {path}", timeout=10, markup=False)

    app.run_worker(write, thread=True, group="export")


def replay(app: CcmApp, flow: Flow) -> None:
    if flow.request_body is None:
        app.notify("this request has no body to replay", severity="warning")
        return

    def chosen(target: str | None) -> None:
        if target is None or target == UNSET:
            return
        view = ReplayView(flow, target, app.redactor)
        app.push_screen(view)
        app.run_worker(_send_replay(app, flow, target, view), group="replay")

    app.push_screen(RoutePicker(f"Replay #{flow.id} on… (now {flow.target or '–'})", app._models(), flow.target,
                                providers=list(app.config.providers)), chosen)


async def _send_replay(app: CcmApp, flow: Flow, target: str, view: ReplayView) -> None:
    """The replay runs on the proxy's loop, as a command; the view shows its one result."""
    server = app.server
    try:
        result = await asyncio.wrap_future(server.command(lambda _: replay_request(server.base_url, server.token,
                                                                                   flow, target)))
    except RuntimeError as exc:  # the proxy has stopped
        result = ReplayResult(f"replay failed: {exc}", "failed", error=True)
    view.show_result(result.text, result.subtitle, error=result.error)


def tell_config_errors(app: CcmApp, flows: list[Flow]) -> None:
    """A configuration error no retry can fix is notified at once (each message once a minute)."""
    now = time.monotonic()
    for flow in flows:
        if flow.config_error and flow.error and now - app.told_errors.get(flow.error, -60.0) >= 60.0:
            app.told_errors[flow.error] = now
            app.notify(f"{flow.status} {flow.error}", title="configuration error", severity="error", timeout=20,
                       markup=False)
