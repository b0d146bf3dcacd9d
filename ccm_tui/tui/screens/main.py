"""The main screen: claude's pane beside the dashboard panes, a status bar and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...proxy import budget
from ..layout import PANES, share_height
from ..panes.providers import ProvidersPane
from ..panes.requests import RequestsPane
from ..panes.routes import RoutesPane
from ..panes.sessions import SessionsPane, SessionsTree
from ..panes.tokens import TokensPane

if TYPE_CHECKING:
    from ..app import CcmApp

EXIT_HINT = "F10 quits · F2 goes to the dashboard · F1 help"


class ClaudeBox(Vertical):
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    ClaudeBox { border: round $primary-darken-1; width: 50%; }
    ClaudeBox:focus-within { border: round $accent; }
    """


class Dashboard(Vertical):
    """The panes beside claude; single keys work here (not in claude's pane, which owns them)."""

    BINDINGS = [Binding("q", "app.quit", "Quit", show=False, tooltip="quit (in the dashboard)"),
                Binding("question_mark", "app.help", "Help", show=False, tooltip="help (in the dashboard)")]


class MainScreen(Screen[None], inherit_bindings=False):
    """No tab / ctrl+c bindings: those keys belong to claude when its pane has focus."""

    def compose(self) -> ComposeResult:
        app: CcmApp = self.app  # type: ignore[assignment]
        with Horizontal(id="main"):
            if app.claude_argv is not None and app.embed:
                from ..panes.claude import ClaudePane

                with ClaudeBox(id="claude-box") as box:
                    box.border_title = "claude"
                    session, app.claude_session = app.claude_session, None  # an early claude, taken once
                    yield ClaudePane(app.claude_argv, app.claude_env, app.claude_cwd, exit_hint=EXIT_HINT,
                                     session=session)
            with Dashboard(id="dashboard"):
                yield RequestsPane(app.store, id="requests")
                yield SessionsPane(app.store, id="sessions")
                yield ProvidersPane(app.store, id="providers")
                yield TokensPane(app.store, app.config, id="tokens")
                yield RoutesPane(app.config, app.pinned, id="routes")
        yield Static(id="statusbar")
        yield Footer()

    def on_mount(self) -> None:
        self.app.main_ready()  # type: ignore[attr-defined]
        self.set_interval(1.0, self.share_height)  # content grows (sessions, models): share again

    def on_resize(self) -> None:
        self.share_height()

    def share_height(self) -> None:
        """Give the dashboard panes their heights in the defined order (layout.py); none is cut off."""
        height = self.size.height - 2  # the status bar and the footer
        natural = {}
        for name, _, most in PANES:
            pane = self.query_one(f"#{name}")
            width = max(1, pane.size.width - 2)
            size = Size(width, most)
            natural[name] = pane.get_content_height(size, size, width) + pane.styles.gutter.height
        for name, rows in share_height(height, natural).items():
            pane = self.query_one(f"#{name}")
            pane.display = rows > 0
            if rows:
                pane.styles.max_height = rows

    def on_sessions_tree_filter(self, message: SessionsTree.Filter) -> None:
        """A node picked in the Sessions pane: the requests table shows its requests."""
        self.query_one(RequestsPane).table.set_filter(message.predicate, message.label)


def status_text(app: CcmApp) -> Text:
    """The status bar: proxy, config, pin, request count and spend against the cap (from the flow store)."""
    text = Text.assemble(("proxy ", "bold"), app.server.base_url, "  ·  ")
    if app.config.embedded_default:  # no file: say what runs, not a path that does not exist
        text.append("passthrough to Anthropic", style="bold yellow")
        text.append(" (no config file: ccm-tui config init)")
    else:
        text.append_text(Text.assemble(("config ", "bold"), str(app.config.path)))
    if app.past_session is not None:
        text.append(f"  ·  past session {app.past_session} (read-only; replays are live)", style="bold cyan")
    if app.pinned:
        text.append(f"  ·  📌 {app.pinned}", style="bold magenta")
    text.append(f"  ·  {app.store.session.requests} requests")  # counted as the Tokens pane counts them
    if app.store.dropped:
        text.append(f" ({app.store.dropped} dropped from view)", style="yellow")
    text.append("  ·  ")
    spent = app.store.session
    tokens = spent.input_tokens + spent.cache_read_tokens + spent.output_tokens
    share = budget.spend_share(spent.cost_usd, tokens, app.config)
    text.append(budget.spend_text(spent.cost_usd, tokens, app.config),
                style="bold red" if share >= 1 else "yellow" if share >= 0.8 else "")
    if app.claude_exit_code is not None:
        text.append(f"  ·  claude exited ({app.claude_exit_code})", style="bold yellow")
    return text
