"""The app's longer actions (curl, export, replay, help, exit countdown) and palette entries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
from rich.text import Text
from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.screen import ModalScreen
from textual.widgets import Static

from ..export import content_text, curl_command, default_export_path, write_jsonl
from ..flow import Flow
from .inspector import ReplayView, TextModal
from .route_picker import UNSET, RoutePicker

if TYPE_CHECKING:
    from .app import CcmApp

REPLAY_TIMEOUT = 600.0
KEYS = [
    ("F1", "this help"), ("F2", "move focus between claude and the dashboard"),
    ("F3", "zoom the focused pane to the whole screen and back"), ("F4", "routes: focus the table; again: change"),
    ("F5", "pin every request to one model for this session / unpin"), ("F6", "next dashboard pane"),
    ("F7 / F8", "claude pane narrower / wider"), ("F9", "command palette (every action)"), ("F10", "quit"),
    ("F12", "restart claude with --continue (after a route change that changes the window)"),
    ("Enter", "on a request: open the inspector; on a route: change it"),
    ("t", "requests: show token counts (count_tokens) one by one / collapse runs of them"),
    ("inspector", "c copy as curl · e export session JSONL · r replay on another model · o expand all · Esc back"),
]


class ExitCountdown(ModalScreen[bool]):
    """claude exited: quit after a grace period unless a key is pressed (True = keep open)."""

    DEFAULT_CSS = """
    ExitCountdown { align: center middle; }
    ExitCountdown > Static { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """

    def __init__(self, code: int, grace: float) -> None:
        super().__init__()
        self.code = code
        self.grace = grace

    def compose(self) -> ComposeResult:
        yield Static(f"claude exited with code {self.code}.\n\nccm-tui quits in {self.grace:.0f} s — "
                     "press any key to keep the dashboard open.")

    def on_mount(self) -> None:
        self.set_timer(self.grace, self._time_up)

    def _time_up(self) -> None:
        self.dismiss(False)  # not returned: a timer awaits what its callback returns

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(True)


def help_screen(app: CcmApp) -> TextModal:
    text = Text()
    for key, what in KEYS:
        text.append(f"{key:>10}  ", style="bold")
        text.append(what + "\n")
    text.append("\n")
    for label, value in (("proxy", app.server.base_url), ("config", str(app.config.path or "(built-in)")),
                         ("log file", str(app.log_path or "(not set up)")),
                         ("exports", str(default_export_path().parent))):
        text.append(f"{label:>10}  ", style="bold")
        text.append(value + "\n")
    text.append("\nclaude gets Esc, Tab and every Ctrl key while its pane has focus.", style="dim")
    return TextModal("ccm-tui — keys", text)


def copy_curl(app: CcmApp, flow: Flow) -> None:
    command = curl_command(flow, app.server.base_url, app.redactor)
    app.copy_to_clipboard(command)
    app.push_screen(TextModal("curl — copied to the clipboard (token as $ANTHROPIC_AUTH_TOKEN)", command))


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
    """POST the same body to the proxy itself; ``model = "provider,model"`` is an explicit override."""
    body = {**(flow.request_body or {}), "model": target, "stream": False}
    headers = {"x-api-key": app.server.token.reveal(), "anthropic-version": "2023-06-01"}
    for name, value in flow.request_headers.items():
        if name.lower() == "anthropic-beta":
            headers["anthropic-beta"] = value
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(REPLAY_TIMEOUT, connect=5.0)) as client:
            response = await client.post(app.server.base_url + (flow.path or "/v1/messages"), json=body,
                                         headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        view.show_result(f"replay failed: {type(exc).__name__}: {exc}", "failed", error=True)
        return
    if response.status_code >= 400:
        message = (data.get("error") or {}).get("message") if isinstance(data, dict) else None
        view.show_result(f"HTTP {response.status_code}: {message or json.dumps(data)}",
                         f"{response.status_code} · {elapsed:.0f}ms", error=True)
        return
    if isinstance(data, dict) and "content" in data:
        text = "\n".join(content_text(data.get("content")))
        usage = data.get("usage") or {}
        subtitle = f"{elapsed:.0f}ms · out {usage.get('output_tokens', '–')}"
    else:
        text, subtitle = json.dumps(data, indent=2), f"{elapsed:.0f}ms"
    view.show_result(text or "(empty answer)", subtitle)


def palette_commands(app: CcmApp) -> Iterator[SystemCommand]:
    yield SystemCommand("Help", "keys, proxy URL, config and log file", app.action_help)
    yield SystemCommand("Focus claude / dashboard", "F2", app.action_toggle_focus)
    yield SystemCommand("Zoom pane", "F3: the focused pane fills the screen (again: back)", app.action_zoom)
    yield SystemCommand("Routes", "F4: focus the route table", app.action_routes)
    yield SystemCommand("Pin / unpin", "F5: send every request to one model this session", app.action_pin)
    yield SystemCommand("Next pane", "F6", app.action_next_pane)
    yield SystemCommand("Claude pane narrower", "F7", lambda: app.action_resize(-5))
    yield SystemCommand("Claude pane wider", "F8", lambda: app.action_resize(5))
    yield SystemCommand("Restart claude", "F12: restart it with --continue (same conversation), told the "
                        "routes as they are now", app.action_restart_claude)
    yield SystemCommand("Inspect request", "open the highlighted request", app.action_inspect)
    yield SystemCommand("Export session JSONL", "all kept records, redacted, under the state dir",
                        lambda: app.export_session(None))

    def on_current(action):  # type: ignore[no-untyped-def]
        def run() -> None:
            from .panes.requests import RequestsTable

            flow = app.screen_stack[0].query_one(RequestsTable).current
            if flow is None:
                app.notify("no request selected")
            else:
                action(flow)
        return run

    def toggle_counts() -> None:
        from .panes.requests import RequestsTable

        app.screen_stack[0].query_one(RequestsTable).action_toggle_counts()

    yield SystemCommand("Token counts: show / collapse", "t in the requests table: count_tokens runs as one row "
                        "or one by one", toggle_counts)
    yield SystemCommand("Copy request as curl", "redacted", on_current(app.copy_curl))
    yield SystemCommand("Replay request", "on another provider,model, side by side", on_current(app.replay))
    yield SystemCommand("Keep dashboard open", "do not quit when claude exits",
                        lambda: (setattr(app, "keep_open", True), app.notify("will stay open when claude exits")))
