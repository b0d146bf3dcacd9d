"""A scrollable text over the screen (the curl command, help)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class TextModal(ModalScreen[None]):
    """A scrollable text shown over the screen (the curl command, help)."""

    DEFAULT_CSS = """
    TextModal { align: center middle; }
    TextModal > VerticalScroll { width: 90%; height: auto; max-height: 85%; border: thick $accent;
                                 background: $surface; padding: 0 1; }
    TextModal #text-modal-wide { height: auto; max-height: 30; overflow-x: auto; }
    TextModal #text-modal-wide > Static { width: auto; }
    """
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, title: str, body: RenderableType, wide: Text | None = None) -> None:
        """``wide``: shown under ``body`` as it is, never wrapped (a command), scrolling sideways."""
        super().__init__()
        self.title_text = title
        self.body = body
        self.wide = wide

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = self.title_text
            body = Text(self.body) if isinstance(self.body, str) else self.body  # a curl command is not markup
            yield Static(body, id="text-modal-body")
            if self.wide is not None:
                with ScrollableContainer(id="text-modal-wide"):
                    yield Static(self.wide, id="text-modal-command")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
