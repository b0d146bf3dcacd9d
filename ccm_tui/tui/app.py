"""The ccm-tui app: claude in a pane beside the live dashboard of the embedded proxy's flows.

Keys: ccm-tui's own actions live on F-keys (priority bindings) because claude uses Esc and
Ctrl+letters; the app and its main screen inherit no default bindings (no ctrl+q, ctrl+p, tab).
Flow events arrive on the proxy thread and are coalesced (one message; the UI drains at most ~10 times
a second). Every number shown comes from the flow store fed that way; config and pin are the last the
proxy's session published. Changes (route, pin) go to the proxy as commands (``ProxyServer.command``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from ..claude_launch import routed_window
from ..events import FlowEvent, SessionUpdate
from ..flow import Flow
from ..proxy.server import ProxyServer
from ..stats import DEFAULT_HISTORY, FlowStore
from ..terminal.pty_session import PtySession
from . import actions, ui_state
from .cache_notice import cache_move_text
from .claude_restart import restart_claude, run_unembedded, window_notice
from .commands import CcmCommands, help_screen
from .dialogs.exit_countdown import ExitCountdown
from .panes.providers import ProvidersPane
from .panes.requests import RequestsPane, RequestsTable
from .panes.routes import RoutesPane, RoutesTable
from .panes.sessions import SessionsPane
from .panes.tokens import TokensPane
from .screens.main import ClaudeBox, MainScreen, status_text
from .ui_state import load_ui_state

FLUSH_INTERVAL = 0.1  # seconds between UI refreshes under load
# ... and after a refresh that took in this many flows (a flood of requests), this long: each refresh
# costs the UI thread milliseconds, which the proxy's thread then waits for.
BUSY_FLOWS = 10
BUSY_FLUSH_INTERVAL = 0.25
VOCABULARY_DELAY = 1.0  # seconds after the main screen is up


class FlowsPending(Message):
    """Posted (thread-safely) by the bus subscriber when flows changed since the last drain."""


class SessionChanged(Message):
    """Posted (thread-safely) for each session update the proxy publishes."""

    def __init__(self, update: SessionUpdate) -> None:
        super().__init__()
        self.update = update


class CcmApp(App[int], inherit_bindings=False):
    TITLE = "ccm-tui"
    COMMAND_PALETTE_BINDING = "f9"
    CSS = """
    #main { height: 1fr; }
    #dashboard { width: 1fr; }
    #requests { min-height: 8; }
    #providers { height: auto; max-height: 9; }
    #tokens { height: auto; max-height: 14; }
    #statusbar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [  # the tooltip is the key's one description: help (F1) and the palette (F9) show it
        Binding("f1", "help", "Help", priority=True, tooltip="this help: keys, proxy URL, config and log file"),
        Binding("f2", "toggle_focus", "Claude⇄Dash", priority=True,
                tooltip="move focus between claude and the dashboard"),
        Binding("f3", "zoom", "Zoom", priority=True, tooltip="zoom the focused pane to the whole screen and back"),
        Binding("f4", "routes", "Routes", priority=True, tooltip="routes: focus the table; again: change"),
        Binding("f5", "pin", "Pin", priority=True,
                tooltip="pin every request to one model for this session / unpin"),
        Binding("f6", "next_pane", "Next pane", priority=True, tooltip="next dashboard pane"),
        Binding("f7", "resize(-5)", "Narrow", show=False, priority=True, tooltip="claude pane narrower"),
        Binding("f8", "resize(5)", "Widen", show=False, priority=True, tooltip="claude pane wider"),
        Binding("f9", "command_palette", "Palette", show=False, priority=True,
                tooltip="command palette (every action)"),
        Binding("f10", "quit", "Quit", priority=True, tooltip="quit"),
        Binding("f12", "restart_claude", "Restart claude", show=False, priority=True,
                tooltip="restart claude with --continue (after a route change that changes the window)"),
    ]
    COMMANDS = App.COMMANDS | {CcmCommands}
    claude_width: reactive[int] = reactive(50)

    def __init__(
        self,
        server: ProxyServer,
        claude_argv: list[str] | None = None,
        claude_env: dict[str, str] | None = None,
        *,
        claude_cwd: str | None = None,
        embed: bool = True,
        keep_open: bool = False,
        log_path: Path | None = None,
        history: int = DEFAULT_HISTORY,
        exit_grace: float = 3.0,
        claude_session: PtySession | None = None,
    ) -> None:
        """``claude_session``: claude already spawned for the pane (it loads while the app starts)."""
        super().__init__()
        self.server = server
        self.config = server.config  # the last snapshot the proxy published (immutable)
        self.pinned: str | None = server.session.pinned
        self.redactor = server.redactor
        self.claude_argv = claude_argv
        self.claude_env = claude_env or {}
        self.claude_cwd = claude_cwd
        self.claude_session = claude_session  # the first claude pane takes it
        self.embed = embed
        self.keep_open = keep_open
        self.log_path = log_path
        self.exit_grace = exit_grace
        self.store = FlowStore(history)
        self.claude_exit_code: int | None = None
        self._pending: dict[int, Flow] = {}
        self._lock = threading.Lock()
        self._posted = True  # until main_ready: flows are kept, nothing is posted to a screen not there yet
        # Subscribed from the start: claude (started before the TUI) may be answered before the screen is up.
        self._unsubscribe: list[Any] = [server.bus.subscribe(self._on_flow_event)]
        self._last_dashboard: Widget | None = None
        self._drained = 0  # flows the last refresh took in
        self.told_errors: dict[str, float] = {}  # configuration error → when it was last notified
        self.told_window = routed_window(self.config)  # the compaction window claude was started with
        self.past_session: str | None = None  # a recorded session shown read-only (tui/past.py)
        self.ui_state = load_ui_state()
        self.claude_width = self.ui_state.claude_width

    # -- event bridge ---------------------------------------------------------------------------
    def _on_flow_event(self, event: FlowEvent, flow: Flow) -> None:
        """Proxy thread: remember the flow, post at most one message until the UI drains."""
        with self._lock:
            self._pending[flow.id] = flow
            if self._posted:
                return
            self._posted = True
        self.post_message(FlowsPending())

    def _on_session_update(self, update: SessionUpdate) -> None:
        """Proxy thread: hand the update to the UI thread."""
        self.post_message(SessionChanged(update))

    def on_session_changed(self, message: SessionChanged) -> None:
        update = message.update
        moved = cache_move_text(self, self.config, update.config) if update.kind in ("route", "pin") else None
        self.config, self.pinned = update.config, update.pinned
        main = self.screen_stack[0]
        if isinstance(main, MainScreen) and main.is_mounted:
            main.query_one(RoutesPane).update_view(self.config, self.pinned)
            main.query_one(TokensPane).config = self.config
            main.query_one(TokensPane).update_view()
            self.update_statusbar()
        if update.kind in ("route", "pin", "reload"):
            window_notice(self)  # claude may now compact at a window the default model no longer has
        if moved:
            self.notify(moved, title="prompt cache", timeout=12, markup=False)
        if update.problems:
            shown = update.problems[:8]
            more = f"\n… and {len(update.problems) - len(shown)} more" if len(update.problems) > len(shown) else ""
            self.notify(update.message + ":\n" + "\n".join(shown) + more, severity="error", timeout=20,
                        markup=False)
        elif update.about_the_file:
            self.notify(update.message, timeout=6, markup=False)

    def on_flows_pending(self, _: FlowsPending) -> None:
        self.set_timer(BUSY_FLUSH_INTERVAL if self._drained >= BUSY_FLOWS else FLUSH_INTERVAL, self.flush_flows)

    def flush_flows(self) -> None:
        with self._lock:
            flows = sorted(self._pending.values(), key=lambda f: f.id)
            self._pending.clear()
            self._posted = False
        self._drained = len(flows)
        self.ingest(flows)

    def ingest(self, flows: Iterable[Flow]) -> None:
        flows = list(flows)
        self.store.ingest(flows)
        actions.tell_config_errors(self, flows)
        if not self.is_running or not isinstance(self.screen_stack[0], MainScreen):
            return
        main = self.screen_stack[0]
        main.query_one(RequestsPane).rows_changed(flows)
        main.query_one(SessionsPane).flows_changed()
        main.query_one(ProvidersPane).update_view()
        main.query_one(TokensPane).update_view()
        self.update_statusbar()

    # -- lifecycle ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def main_ready(self) -> None:
        """The main screen is composed: subscribe to the bus and start claude (if not embedded)."""
        self._unsubscribe.append(self.server.bus.subscribe_session(self._on_session_update))
        with self._lock:
            self._posted = False
        self.flush_flows()  # what the proxy answered before the screen was up
        self.config, self.pinned = self.server.config, self.server.session.pinned  # what changed before
        self.screen.query_one(RoutesPane).update_view(self.config, self.pinned)
        self.update_statusbar()
        for box in self.screen.query(ClaudeBox):  # the width remembered from the last run
            box.styles.width = f"{self.claude_width}%"
        pane = self._claude_pane()
        remembered = dict(zip(ui_state.FOCUSABLE[1:], self._dashboard_panes(), strict=True)).get(self.ui_state.focus)
        if remembered is not None:
            remembered.focus()
        elif pane is not None:
            pane.focus()
        else:
            self.screen.query_one(RequestsTable).focus()
        if self.claude_argv is not None and not self.embed:
            self.run_claude_unembedded()
        # Token vocabularies hold the GIL while they load: after claude's first screen, not during it.
        self.set_timer(VOCABULARY_DELAY, self.server.warm_up_vocabularies)

    def on_unmount(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.remember()
        super().exit(*args, **kwargs)

    def remember(self) -> None:
        """Keep claude's width and the focused pane for the next run."""
        if not self.screen_stack or not isinstance(self.screen_stack[0], MainScreen):
            return
        main = self.screen_stack[0]
        names = dict(zip(self._dashboard_panes(), ui_state.FOCUSABLE[1:], strict=True)) if main.is_mounted else {}
        self.ui_state.claude_width = self.claude_width
        self.ui_state.focus = names.get(main.focused, "claude")  # type: ignore[arg-type]
        ui_state.save_ui_state(self.ui_state)

    def watch_claude_width(self, width: int) -> None:
        if self.is_running:
            for box in self.screen_stack[0].query(ClaudeBox):
                box.styles.width = f"{width}%"

    def update_statusbar(self) -> None:
        # One line tall whatever it says: no layout pass (10 a second while requests flow).
        self.screen_stack[0].query_one("#statusbar", Static).update(status_text(self), layout=False)

    def _claude_pane(self) -> Any:
        boxes = self.screen_stack[0].query(ClaudeBox)
        if not boxes:
            return None
        children = boxes.first().children
        return children[0] if children else None

    def on_claude_pane_exited(self, message: Any) -> None:
        if getattr(message, "pane", None) is not self._claude_pane():
            return  # a pane replaced by a restart
        self.claude_exited(int(getattr(message, "code", 0) or 0))

    def claude_exited(self, code: int) -> None:
        self.claude_exit_code = code
        self.flush_flows()
        self.update_statusbar()
        for box in self.screen_stack[0].query(ClaudeBox):
            box.border_subtitle = f"exited ({code})"
        if self.keep_open:
            self.notify(f"claude exited with code {code}; the dashboard stays open (F10 quits).")
            self.screen_stack[0].query_one(RequestsTable).focus()
            return
        if self.exit_grace <= 0 and self.embed:
            self.exit(return_code=code)
            return

        def decided(keep: bool | None) -> None:
            if keep:
                self.keep_open = True
                self.notify("Dashboard kept open; F10 quits.")
                self.screen_stack[0].query_one(RequestsTable).focus()
            else:
                self.exit(return_code=code)

        # --no-embed: the dashboard just came back; it waits for a key instead of a countdown
        self.push_screen(ExitCountdown(code, self.exit_grace if self.embed else None), decided)

    @work(exclusive=True, group="claude")
    async def run_claude_unembedded(self) -> None:
        """--no-embed: claude gets the real terminal; the proxy (own thread) keeps serving."""
        assert self.claude_argv is not None
        try:
            with self.suspend():
                code = await run_unembedded(self)
        except SuspendNotSupported:  # headless (tests): nothing to hand over
            code = await run_unembedded(self)
        self.refresh()
        self.claude_exited(code)

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_focus", "zoom", "next_pane", "resize", "routes") and not isinstance(
                self.screen, MainScreen):
            return False
        if action in ("toggle_focus", "resize") and self._claude_pane() is None:
            return False
        return True

    def action_help(self) -> None:
        self.push_screen(help_screen(self))

    def action_toggle_focus(self) -> None:
        pane = self._claude_pane()
        if pane is None:
            return
        if self.focused is pane:
            target = self._last_dashboard or self.screen.query_one(RequestsTable)
            if self.screen.maximized is not None:
                self.action_zoom()
            self.focus_now(target)
        else:
            self._last_dashboard = self.focused
            self.focus_now(pane)

    def action_zoom(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            zoomed = screen.maximized
            screen.minimize()
            zoomed.styles.height = zoomed.styles.max_height = None  # back to the dashboard's CSS
            if isinstance(screen, MainScreen):
                screen.share_height()  # the panes' heights as the layout gives them
        elif self.focused is not None:
            screen.maximize(self.focused)
            if screen.maximized is not None:  # a pane sized for the dashboard fills the screen, not a box in it
                screen.maximized.styles.max_height = "100%"
                screen.maximized.styles.height = "1fr"
        for box in self.screen.query(ClaudeBox):  # its inline width would survive maximizing
            box.styles.width = "100%" if self.screen.maximized is box else f"{self.claude_width}%"

    def focus_now(self, widget: Widget) -> None:
        """Focus at once (``Widget.focus`` waits a turn): the next key of a burst sees the new focus."""
        self.screen.set_focus(widget)

    def _dashboard_panes(self) -> list[Widget]:
        s = self.screen_stack[0]
        return [s.query_one(RequestsTable), s.query_one(ProvidersPane), s.query_one(TokensPane),
                s.query_one(RoutesTable)]

    def action_next_pane(self) -> None:
        panes = self._dashboard_panes()
        index = panes.index(self.focused) + 1 if self.focused in panes else 0
        if self.screen.maximized is not None:
            self.action_zoom()
        self.focus_now(panes[index % len(panes)])

    def action_resize(self, delta: int) -> None:
        self.claude_width = max(25, min(80, self.claude_width + delta))

    def action_routes(self) -> None:
        table = self.screen.query_one(RoutesTable)
        if self.focused is table:
            self.pick_route(self.screen.query_one(RoutesPane).selected_route())
        else:
            self.focus_now(table)
            self.notify("Routes: ↑/↓ to choose, Enter to change (F4 again opens the picker).", timeout=3)

    def on_routes_table_pick(self, message: RoutesTable.Pick) -> None:
        self.pick_route(message.route)

    def on_requests_table_inspect(self, message: RequestsTable.Inspect) -> None:
        self.inspect(message.flow)

    def _models(self) -> list[str]:
        return [f"{p},{m}" for p, m in self.config.all_models()]

    def pick_route(self, route: str) -> None:
        actions.pick_route(self, route)

    def set_route(self, route: str, target: str | None) -> None:
        """Ask the proxy to change a route (it writes the file, then swaps the snapshot)."""
        actions.run_command(self, lambda session: session.set_route(route, target), "route not changed")

    def action_pin(self) -> None:
        if self.pinned:
            self.set_pin(None)
        else:
            actions.pick_pin(self)

    def set_pin(self, target: str | None) -> None:
        actions.run_command(self, lambda session: session.pin(target), "not pinned")

    async def action_restart_claude(self) -> None:
        await restart_claude(self)

    def inspect(self, flow: Flow) -> None:
        from .screens.inspector import Inspector

        self.push_screen(Inspector(flow, self.redactor))

    def action_inspect(self) -> None:
        flow = self.screen_stack[0].query_one(RequestsTable).current
        if flow is None:
            self.notify("no request selected")
        else:
            self.inspect(flow)

    def copy_curl(self, flow: Flow) -> None:
        actions.copy_curl(self, flow)

    def export_session(self, session_id: str | None = None) -> None:
        actions.export_session(self, session_id)

    def replay(self, flow: Flow) -> None:
        actions.replay(self, flow)

    async def action_quit(self) -> None:
        pane = self._claude_pane()
        if pane is not None and getattr(pane, "exit_code", None) is None:
            await pane.terminate()
        self.exit(return_code=self.claude_exit_code or 0)
