"""The ccm-tui app: claude in a pane beside the live dashboard of the embedded proxy's flows.

Keys: ccm-tui's own actions live on F-keys (priority bindings) because claude uses Esc and
Ctrl+letters; the app and its main screen inherit no default bindings (no ctrl+q, ctrl+p, tab).
Flow events arrive on the proxy thread and are coalesced: the subscriber only records the flow
and posts one message; the UI drains at most ~10 times a second.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from ..claude_launch import routed_window
from ..config import ROUTES, ConfigError
from ..events import FlowEvent
from ..flow import Flow
from ..proxy import budget
from ..proxy.server import ProxyServer
from ..stats import DEFAULT_HISTORY, FlowStore
from ..terminal.pty_session import restore_default_signals
from . import actions
from .claude_restart import restart_claude, window_notice
from .panes.providers import ProvidersPane
from .panes.requests import RequestsPane, RequestsTable
from .panes.routes import RoutesPane, RoutesTable
from .panes.tokens import TokensPane
from .route_picker import UNSET, RoutePicker

FLUSH_INTERVAL = 0.1  # seconds between UI refreshes under load
EXIT_HINT = "F10 quits · F2 goes to the dashboard · F1 help"


class FlowsPending(Message):
    """Posted (thread-safely) by the bus subscriber when flows changed since the last drain."""


class ClaudeBox(Vertical):
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    ClaudeBox { border: round $primary-darken-1; width: 50%; }
    ClaudeBox:focus-within { border: round $accent; }
    """


class MainScreen(Screen[None], inherit_bindings=False):
    """No tab / ctrl+c bindings: those keys belong to claude when its pane has focus."""

    def compose(self) -> ComposeResult:
        app: CcmApp = self.app  # type: ignore[assignment]
        with Horizontal(id="main"):
            if app.claude_argv is not None and app.embed:
                from .claude_pane import ClaudePane

                with ClaudeBox(id="claude-box") as box:
                    box.border_title = "claude"
                    yield ClaudePane(app.claude_argv, app.claude_env, app.claude_cwd, exit_hint=EXIT_HINT)
            with Vertical(id="dashboard"):
                yield RequestsPane(app.store, id="requests")
                yield ProvidersPane(app.store, id="providers")
                yield TokensPane(app.store, app.config, id="tokens")
                yield RoutesPane(app.config, id="routes")
        yield Static(id="statusbar")
        yield Footer()

    def on_mount(self) -> None:
        self.app.main_ready()  # type: ignore[attr-defined]


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
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("f2", "toggle_focus", "Claude⇄Dash", priority=True),
        Binding("f3", "zoom", "Zoom", priority=True),
        Binding("f4", "routes", "Routes", priority=True),
        Binding("f5", "pin", "Pin", priority=True),
        Binding("f6", "next_pane", "Next pane", priority=True),
        Binding("f7", "resize(-5)", "Narrow", show=False, priority=True),
        Binding("f8", "resize(5)", "Widen", show=False, priority=True),
        Binding("f9", "command_palette", "Palette", show=False, priority=True),
        Binding("f10", "quit", "Quit", priority=True),
        Binding("f12", "restart_claude", "Restart claude", show=False, priority=True),
    ]
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
    ) -> None:
        super().__init__()
        self.server = server
        self.config = server.state.config
        self.redactor = server.redactor
        self.claude_argv = claude_argv
        self.claude_env = claude_env or {}
        self.claude_cwd = claude_cwd
        self.embed = embed
        self.keep_open = keep_open
        self.log_path = log_path
        self.exit_grace = exit_grace
        self.store = FlowStore(history)
        self.claude_exit_code: int | None = None
        self._pending: dict[int, Flow] = {}
        self._lock = threading.Lock()
        self._posted = False
        self._unsubscribe = None
        self._last_dashboard: Widget | None = None
        self.told_window = routed_window(self.config)  # the compaction window claude was started with

    # -- event bridge ---------------------------------------------------------------------------
    def _on_flow_event(self, event: FlowEvent, flow: Flow) -> None:
        """Proxy thread: remember the flow, post at most one message until the UI drains."""
        with self._lock:
            self._pending[flow.id] = flow
            if self._posted:
                return
            self._posted = True
        self.post_message(FlowsPending())

    def on_flows_pending(self, _: FlowsPending) -> None:
        self.set_timer(FLUSH_INTERVAL, self.flush_flows)

    def flush_flows(self) -> None:
        with self._lock:
            flows = sorted(self._pending.values(), key=lambda f: f.id)
            self._pending.clear()
            self._posted = False
        self.ingest(flows)

    def ingest(self, flows: Iterable[Flow]) -> None:
        new = self.store.ingest(flows)
        if not self.is_running or not isinstance(self.screen_stack[0], MainScreen):
            return
        main = self.screen_stack[0]
        main.query_one(RequestsPane).rows_changed(new)
        main.query_one(ProvidersPane).update_view()
        main.query_one(TokensPane).update_view()
        self.update_statusbar()

    # -- lifecycle ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def main_ready(self) -> None:
        """The main screen is composed: subscribe to the bus and start claude (if not embedded)."""
        self._unsubscribe = self.server.bus.subscribe(self._on_flow_event)
        self.update_statusbar()
        pane = self._claude_pane()
        if pane is not None:
            pane.focus()
        else:
            self.screen.query_one(RequestsTable).focus()
        if self.claude_argv is not None and not self.embed:
            self.run_claude_unembedded()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def watch_claude_width(self, width: int) -> None:
        if self.is_running:
            for box in self.screen_stack[0].query(ClaudeBox):
                box.styles.width = f"{width}%"

    def update_statusbar(self) -> None:
        bar = self.screen_stack[0].query_one("#statusbar", Static)
        text = Text.assemble(("proxy ", "bold"), self.server.base_url, "  ·  ",
                             ("config ", "bold"), str(self.config.path or "(built-in passthrough)"))
        if self.config.pinned:
            text.append(f"  ·  📌 {self.config.pinned}", style="bold magenta")
        text.append(f"  ·  {self.store.seen} requests")
        if self.store.dropped:
            text.append(f" ({self.store.dropped} dropped from view)", style="yellow")
        text.append("  ·  ")
        text.append(budget.spend_text(self.server.state), style=_spend_style(self.server.state))
        if self.claude_exit_code is not None:
            text.append(f"  ·  claude exited ({self.claude_exit_code})", style="bold yellow")
        bar.update(text)

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
        if self.exit_grace <= 0:
            self.exit(return_code=code)
            return

        def decided(keep: bool | None) -> None:
            if keep:
                self.keep_open = True
                self.notify("Dashboard kept open; F10 quits.")
                self.screen_stack[0].query_one(RequestsTable).focus()
            else:
                self.exit(return_code=code)

        self.push_screen(actions.ExitCountdown(code, self.exit_grace), decided)

    @work(exclusive=True, group="claude")
    async def run_claude_unembedded(self) -> None:
        """--no-embed: claude gets the real terminal; the proxy (own thread) keeps serving."""
        assert self.claude_argv is not None
        try:
            with self.suspend():
                code = await self._spawn_and_wait()
        except SuspendNotSupported:  # headless (tests): nothing to hand over
            code = await self._spawn_and_wait()
        self.refresh()
        self.claude_exited(code)

    async def _spawn_and_wait(self) -> int:
        assert self.claude_argv is not None
        try:
            proc = await asyncio.create_subprocess_exec(*self.claude_argv, env=self.claude_env, cwd=self.claude_cwd,
                                                        preexec_fn=restore_default_signals)
        except OSError as exc:
            self.notify(f"could not start claude: {exc}", severity="error", markup=False)
            return 127
        return await proc.wait()

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_focus", "zoom", "next_pane", "resize", "routes") and not isinstance(
                self.screen, MainScreen):
            return False
        if action in ("toggle_focus", "resize") and self._claude_pane() is None:
            return False
        return True

    def action_help(self) -> None:
        self.push_screen(actions.help_screen(self))

    def action_toggle_focus(self) -> None:
        pane = self._claude_pane()
        if pane is None:
            return
        if self.focused is pane:
            target = self._last_dashboard or self.screen.query_one(RequestsTable)
            if self.screen.maximized is not None:
                self.action_zoom()
            target.focus()
        else:
            self._last_dashboard = self.focused
            pane.focus()

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.focused is not None:
            self.screen.maximize(self.focused)
        for box in self.screen.query(ClaudeBox):  # its inline width would survive maximizing
            box.styles.width = "100%" if self.screen.maximized is box else f"{self.claude_width}%"

    def _dashboard_panes(self) -> list[Widget]:
        s = self.screen
        return [s.query_one(RequestsTable), s.query_one(ProvidersPane), s.query_one(TokensPane),
                s.query_one(RoutesTable)]

    def action_next_pane(self) -> None:
        panes = self._dashboard_panes()
        index = panes.index(self.focused) + 1 if self.focused in panes else 0
        if self.screen.maximized is not None:
            self.action_zoom()
        panes[index % len(panes)].focus()

    def action_resize(self, delta: int) -> None:
        self.claude_width = max(25, min(80, self.claude_width + delta))

    def action_routes(self) -> None:
        table = self.screen.query_one(RoutesTable)
        if self.focused is table:
            self.pick_route(self.screen.query_one(RoutesPane).selected_route())
        else:
            table.focus()
            self.notify("Routes: ↑/↓ to choose, Enter to change (F4 again opens the picker).", timeout=3)

    def on_routes_table_pick(self, message: RoutesTable.Pick) -> None:
        self.pick_route(message.route)

    def on_requests_table_inspect(self, message: RequestsTable.Inspect) -> None:
        self.inspect(message.flow)

    def _models(self) -> list[str]:
        return [f"{p},{m}" for p, m in self.config.all_models()]

    def pick_route(self, route: str) -> None:
        current = self.config.router.routes.get(route)

        def chosen(value: str | None) -> None:
            if value is not None:
                self.set_route(route, None if value == UNSET else value)

        self.push_screen(RoutePicker(f"Route {route!r} → ? (now: {current or 'default'})", self._models(), current,
                                     None if route == "default" else "(unset: use the default route)",
                                     list(self.config.providers)), chosen)

    def set_route(self, route: str, target: str | None) -> None:
        try:
            self.config.set_route(route, target)
        except (ConfigError, OSError) as exc:
            self.notify(f"route not changed: {exc}", severity="error", markup=False)
            return
        self.screen_stack[0].query_one(RoutesPane).update_view()
        where = f"saved to {self.config.path}" if self.config.path else "this session only"
        self.notify(f"{route} → {target or 'default'} ({where})", markup=False)
        window_notice(self)

    def action_pin(self) -> None:
        if self.config.pinned:
            self.set_pin(None)
            return

        def chosen(value: str | None) -> None:
            if value is not None and value != UNSET:
                self.set_pin(value)

        self.push_screen(RoutePicker("Pin every request to… (session only)", self._models(), None,
                                     providers=list(self.config.providers)), chosen)

    def set_pin(self, target: str | None) -> None:
        self.config.pinned = target
        self.screen_stack[0].query_one(RoutesPane).update_view()
        self.update_statusbar()
        self.notify(f"pinned to {target}" if target else "unpinned: routes apply again", markup=False)
        window_notice(self)

    async def action_restart_claude(self) -> None:
        await restart_claude(self)

    def inspect(self, flow: Flow) -> None:
        from .inspector import Inspector

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from actions.palette_commands(self)
        for route in ROUTES:
            yield SystemCommand(f"Route: set {route}", f"choose the provider,model for the {route} route",
                                lambda r=route: self.pick_route(r), discover=False)


def _spend_style(state: Any) -> str:
    """Spend against the ``[budget]`` cap: yellow from 80 %, red once reached."""
    used = [spent / cap for spent, cap in ((state.spent_usd, state.config.budget_usd),
                                           (state.spent_tokens, state.config.budget_tokens)) if cap]
    share = max(used, default=0.0)
    return "bold red" if share >= 1 else "yellow" if share >= 0.8 else ""
