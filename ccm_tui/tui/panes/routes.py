"""The route table (route → provider,model) with the session pin; Enter opens the route picker."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ...config import ROUTES, Config


class RoutesTable(DataTable):
    BINDINGS = [Binding("enter", "pick", "Change route", tooltip="change the highlighted route")]

    class Pick(Message):
        def __init__(self, route: str) -> None:
            super().__init__()
            self.route = route

    def action_pick(self) -> None:
        if self.row_count:
            self.post_message(self.Pick(ROUTES[self.cursor_row]))


class RoutesPane(Vertical):
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    RoutesPane { border: round $primary-darken-1; height: auto; max-height: 12; }
    RoutesPane:focus-within { border: round $accent; }
    RoutesPane RoutesTable { height: auto; max-height: 9; }
    RoutesPane #pin { height: 1; padding: 0 1; }
    """

    def __init__(self, config: Config, pinned: str | None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.config, self.pinned = config, pinned
        self.border_title = "Routes"
        self.border_subtitle = "Enter: change · F5: pin"

    def compose(self):  # type: ignore[no-untyped-def]
        table = RoutesTable(cursor_type="row", zebra_stripes=False, id="routes-table")
        table.add_column("route", key="route", width=13)
        table.add_column("provider,model", key="target")
        yield table
        yield Static(id="pin")

    @property
    def table(self) -> RoutesTable:
        return self.query_one(RoutesTable)

    def on_mount(self) -> None:
        self.update_view(self.config, self.pinned)

    def selected_route(self) -> str:
        return ROUTES[self.table.cursor_row] if self.table.row_count else "default"

    def update_view(self, config: Config, pinned: str | None) -> None:
        """Show the routes of ``config`` and the pin (what the proxy's session last published)."""
        self.config, self.pinned = config, pinned
        table = self.table
        routes = self.config.router.routes
        cursor = table.cursor_row
        table.clear()
        for route in ROUTES:
            target = routes.get(route)
            cell = Text(target) if target else Text(f"↳ default ({routes.get('default') or 'passthrough'})",
                                                    style="dim")
            table.add_row(route, cell, key=route)
        if 0 <= cursor < table.row_count:
            table.move_cursor(row=cursor, animate=False)
        pin = self.query_one("#pin", Static)
        if pinned:
            pin.update(Text.assemble(("📌 pinned: ", "bold magenta"), pinned,
                                     (" — every request goes here (session only)", "dim")))
        else:
            pin.update(Text("not pinned", style="dim"))
