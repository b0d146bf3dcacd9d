"""claude exited: the dashboard quits after a grace period unless a key is pressed.

Without a grace period (``--no-embed``: claude had the terminal, the dashboard just came back) it
waits for a key: any key quits, ``d`` keeps the dashboard open.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static


class ExitCountdown(ModalScreen[bool]):
    """claude exited: quit after a grace period unless a key is pressed (True = keep open)."""

    DEFAULT_CSS = """
    ExitCountdown { align: center middle; }
    ExitCountdown > Static { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """

    def __init__(self, code: int, grace: float | None) -> None:
        super().__init__()
        self.code = code
        self.grace = grace

    def compose(self) -> ComposeResult:
        if self.grace is None:
            yield Static(f"claude exited with code {self.code}.\n\nPress any key to quit — "
                         "d keeps the dashboard open.")
        else:
            yield Static(f"claude exited with code {self.code}.\n\nccm-tui quits in {self.grace:.0f} s — "
                         "press any key to keep the dashboard open.")

    def on_mount(self) -> None:
        if self.grace is not None:
            self.set_timer(self.grace, self._time_up)

    def _time_up(self) -> None:
        self.dismiss(False)  # not returned: a timer awaits what its callback returns

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(True if self.grace is not None else event.key == "d")
