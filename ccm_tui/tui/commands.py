"""The command palette (F9) and the help screen (F1), both built from the key bindings.

What a key does is written once, as its ``Binding``'s tooltip; the palette offers every app-level
binding and the actions that have no key of their own, and help lists the keys by where they work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..config import ROUTES
from ..export import default_export_path
from .dialogs.text import TextModal
from .panes.requests import RequestsTable
from .panes.routes import RoutesTable
from .screens.inspector import Inspector

if TYPE_CHECKING:
    from .app import CcmApp


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    help: str
    run: Callable[[], Any]
    discover: bool = True  # listed before anything is typed


def key_label(binding: Binding) -> str:
    keys = binding.key_display or binding.key
    return " / ".join(k.upper() if k[:1] == "f" and k[1:].isdigit() else k.capitalize() if len(k) > 1 else k
                      for k in keys.split(","))


def _about(binding: Binding) -> str:
    return binding.tooltip or binding.description


def _bindings(owner: type) -> list[Binding]:
    return [b for b in owner.BINDINGS if isinstance(b, Binding) and (b.show or b.tooltip)]


def _on_current(app: CcmApp, action: Callable[[Any], None]) -> Callable[[], None]:
    def run() -> None:
        flow = app.screen_stack[0].query_one(RequestsTable).current
        if flow is None:
            app.notify("no request selected")
        else:
            action(flow)
    return run


def entries(app: CcmApp) -> Iterator[Entry]:
    from .app import CcmApp

    for binding in _bindings(CcmApp):
        if binding.action != "command_palette":
            yield Entry(binding.tooltip or binding.description, key_label(binding),
                        partial(app.run_action, binding.action))
    yield Entry("Inspect request", "Enter in the requests table: the highlighted request", app.action_inspect)
    yield Entry("Token counts one by one / collapsed", "t in the requests table",
                lambda: app.screen_stack[0].query_one(RequestsTable).action_toggle_counts())
    yield Entry("Copy request as curl", "redacted", _on_current(app, app.copy_curl))
    yield Entry("Replay request", "on another provider,model, side by side", _on_current(app, app.replay))
    yield Entry("Export session JSONL", "all kept records, redacted, under the state dir",
                lambda: app.export_session(None))
    yield Entry("Keep dashboard open", "do not quit when claude exits",
                lambda: (setattr(app, "keep_open", True), app.notify("will stay open when claude exits")))
    for route in ROUTES:
        yield Entry(f"Route: set {route}", f"choose the provider,model for the {route} route",
                    partial(app.pick_route, route), discover=False)


class CcmCommands(Provider):
    """ccm-tui's actions in Textual's command palette."""

    async def discover(self) -> Hits:
        for entry in entries(self.app):  # type: ignore[arg-type]
            if entry.discover:
                yield DiscoveryHit(entry.title, entry.run, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in entries(self.app):  # type: ignore[arg-type]
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.title), entry.run, help=entry.help)


def help_screen(app: CcmApp) -> TextModal:
    from .app import CcmApp

    text = Text()
    for heading, owner in (("anywhere", CcmApp), ("requests table", RequestsTable), ("routes table", RoutesTable),
                           ("inspector", Inspector)):
        text.append(f"{heading}\n", style="bold underline")
        for binding in _bindings(owner):
            text.append(f"{key_label(binding):>12}  ", style="bold")
            text.append(_about(binding) + "\n")
    text.append("\n")
    for label, value in (("proxy", app.server.base_url), ("config", str(app.config.path or "(built-in)")),
                         ("log file", str(app.log_path or "(not set up)")),
                         ("exports", str(default_export_path().parent))):
        text.append(f"{label:>12}  ", style="bold")
        text.append(value + "\n")
    text.append("\nclaude gets Esc, Tab and every Ctrl key while its pane has focus.", style="dim")
    return TextModal("ccm-tui — keys", text)
