"""The first-run screen: shown before claude starts when there is no config file.

It lists the provider keys found in the environment, previews the config it would write from them
(0600, keys as ``$VAR`` references), and writes it, or one where claude keeps its own login for
Anthropic, or continues as a passthrough to Anthropic without writing anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Static

from ..first_config import first_config, scan, write_first_config

WRITTEN, PASSTHROUGH = "written", "passthrough"


def keys_text(env: Mapping[str, str]) -> Text:
    text = Text()
    for found in scan(env):
        if found.variable:
            text.append("  ✓ ", style="bold green").append(f"{found.provider.label:<11}", style="bold")
            text.append(f" ${found.variable}\n")
        else:
            text.append(f"  – {found.provider.label:<11} ", style="dim")
            text.append(f"{' / '.join(found.provider.variables)} not set\n", style="dim")
    return text


class FirstRunApp(App[str | None], inherit_bindings=False):
    """Returns :data:`WRITTEN`, :data:`PASSTHROUGH`, or None (quit)."""

    TITLE = "ccm-tui · first run"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #first { padding: 0 2; height: 1fr; }
    #first-head { margin: 1 0; }
    #first-keys { margin-bottom: 1; }
    #first-preview-box { border: round $primary-darken-1; height: 1fr; }
    #first-error { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("w", "write(False)", "Write this config"),
        Binding("l", "write(True)", "…keeping my Claude login"),
        Binding("p", "passthrough", "Passthrough (write nothing)"),
        Binding("q,f10,ctrl+c", "quit_setup", "Quit"),
    ]

    def __init__(self, path: Path, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.path = path
        self.env = dict(os.environ if env is None else env)
        self.login = False

    def compose(self) -> ComposeResult:
        with Vertical(id="first"):
            yield Static(Text.assemble(("No config file yet", "bold"), f" (ccm-tui looks for {self.path}).\n",
                                       "Provider keys found in the environment:"), id="first-head")
            yield Static(keys_text(self.env), id="first-keys")
            with VerticalScroll(id="first-preview-box"):
                yield Static(id="first-preview", markup=False)
            yield Static(self._passthrough_note(), id="first-note")
            yield Static("", id="first-error")
        yield Footer()

    def _passthrough_note(self) -> Text:
        has_key = bool(self.env.get("ANTHROPIC_API_KEY", "").strip())
        return Text("p: passthrough sends every request to Anthropic unchanged, with "
                    + ("$ANTHROPIC_API_KEY." if has_key else "$ANTHROPIC_API_KEY, which is not set: requests "
                       "would fail (l keeps claude's own login instead)."), style="" if has_key else "yellow")

    def on_mount(self) -> None:
        self._preview()

    def _preview(self) -> None:
        box = self.query_one("#first-preview-box", VerticalScroll)
        box.border_title = f"w writes {self.path}" + (" (claude keeps its login)" if self.login else "")
        self.query_one("#first-preview", Static).update(first_config(self.env, keep_claude_login=self.login))

    def action_write(self, keep_claude_login: bool) -> None:
        if keep_claude_login != self.login:  # l first shows what it would write; l again writes it
            self.login = keep_claude_login
            self._preview()
            key = "l" if keep_claude_login else "w"
            self.notify(f"this is the config {key} writes: press {key} again to write it", timeout=5)
            return
        try:
            write_first_config(self.path, first_config(self.env, keep_claude_login=keep_claude_login))
        except OSError as exc:
            self.query_one("#first-error", Static).update(f"not written: {exc}")
            return
        self.exit(WRITTEN)

    def action_passthrough(self) -> None:
        self.exit(PASSTHROUGH)

    def action_quit_setup(self) -> None:
        self.exit(None)
