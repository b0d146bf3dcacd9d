"""The live requests table: newest first, virtualised (only visible rows render), rows update in place."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from ...flow import Flow
from ...stats import FlowStore
from .. import format as fmt

# (title, width); the model column takes what is left
COLUMNS: tuple[tuple[str, int], ...] = (
    ("#", 4), ("time", 8), ("route", 11), ("provider,model", 0), ("st", 4),
    ("ttft", 6), ("dur", 6), ("in", 6), ("out", 5),
)
NARROW = 100  # below this width the clock column is left out


def _widths(total: int) -> list[int]:
    """Column widths for a total width (0 = column hidden); the model column takes the rest."""
    widths = [0 if (title == "time" and total < NARROW) else w for title, w in COLUMNS]
    used = sum(widths) + sum(1 for w in widths if w) + 1
    return [max(14, total - used) if title == "provider,model" else w for (title, _), w in zip(COLUMNS, widths, strict=True)]


def row_cells(flow: Flow) -> list[Text]:
    route = flow.route or "–"
    target = Text(flow.target or (flow.requested_model or "–"))
    status = fmt.status(flow)
    if flow.kind == "count_tokens" and flow.state == "done":
        status = Text("cnt", style="dim green")  # a local token count, not a model call
    u = flow.usage
    return [
        Text(str(flow.id), style="dim"),
        Text(fmt.clock(flow.started_at)),
        Text(route, style="bold magenta" if flow.route == "pinned" else "cyan"),
        target,
        status,
        Text(fmt.ms(flow.first_byte_ms), justify="right"),
        Text(fmt.ms(flow.duration_ms if flow.duration_ms is not None else None), justify="right"),
        Text(fmt.tokens(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
                        or flow.estimated_input_tokens), justify="right"),
        Text(fmt.tokens(u.output_tokens) if flow.state != "pending" else "–", justify="right"),
    ]


def layout_row(cells: list[Text], width: int) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    for w, cell in zip(_widths(width), cells, strict=True):
        if not w:
            continue
        cell = cell.copy()
        cell.truncate(w, overflow="ellipsis", pad=True)
        if cell.justify == "right":
            cell = Text(" " * (w - cell.cell_len)) + cell if cell.cell_len < w else cell
            cell.truncate(w, pad=True)
        line.append_text(cell)
        line.append(" ")
    return line


class RequestsTable(ScrollView, can_focus=True):
    """Rows come from a :class:`FlowStore`; row 0 is the newest flow."""

    COMPONENT_CLASSES = {"requests--cursor"}
    DEFAULT_CSS = """
    RequestsTable { height: 1fr; }
    RequestsTable > .requests--cursor { background: $accent 40%; }
    RequestsTable:focus > .requests--cursor { background: $accent; color: $text; text-style: bold; }
    """
    BINDINGS = [
        Binding("enter", "inspect", "Inspect"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", show=False),
        Binding("pagedown", "move(20)", show=False),
        Binding("home,g", "top", "Newest", show=False),
        Binding("end,G", "bottom", show=False),
    ]
    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, flow: Flow | None) -> None:
            super().__init__()
            self.flow = flow

    class Inspect(Message):
        def __init__(self, flow: Flow) -> None:
            super().__init__()
            self.flow = flow

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store

    @property
    def current(self) -> Flow | None:
        return self.store.at(self.cursor) if 0 <= self.cursor < len(self.store) else None

    def rows_changed(self, new: int) -> None:
        """Called after the store ingested flows; keeps the cursor on its flow unless it follows the top."""
        if new and self.cursor > 0:
            self.cursor = min(self.cursor + new, max(0, len(self.store) - 1))
        elif self.cursor >= len(self.store):
            self.cursor = max(0, len(self.store) - 1)
        self.virtual_size = Size(self.size.width, len(self.store))
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def watch_cursor(self, cursor: int) -> None:
        self.scroll_to_region(Region(0, cursor, 1, 1), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.store))

    def action_move(self, delta: int) -> None:
        if len(self.store):
            self.cursor = max(0, min(len(self.store) - 1, self.cursor + delta))

    def action_top(self) -> None:
        self.cursor = 0

    def action_bottom(self) -> None:
        self.cursor = max(0, len(self.store) - 1)

    def action_inspect(self) -> None:
        if self.current is not None:
            self.post_message(self.Inspect(self.current))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = self.scroll_offset.y + y
        if index >= len(self.store):
            return Strip.blank(width, self.rich_style)
        text = layout_row(row_cells(self.store.at(index)), width)
        segments = list(text.render(self.app.console))
        strip = Strip(segments).adjust_cell_length(width, self.rich_style)
        base = self.rich_style
        if index == self.cursor:
            return strip.apply_style(base + self.get_component_rich_style("requests--cursor"))
        return Strip([Segment(s.text, base + s.style if s.style else base) for s in strip])


class RequestsPane(Vertical):
    """Header, table and a status line with the highlighted request's route reason."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    RequestsPane { border: round $primary-darken-1; height: 1fr; }
    RequestsPane:focus-within { border: round $accent; }
    RequestsPane #requests-header { height: 1; text-style: bold; color: $text-muted; }
    RequestsPane #requests-reason { height: 2; color: $text-muted; }
    """

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.border_title = "Requests"

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="requests-header")
        yield RequestsTable(self.store, id="requests-table")
        yield Static("No requests yet.", id="requests-reason")

    @property
    def table(self) -> RequestsTable:
        return self.query_one(RequestsTable)

    def on_resize(self) -> None:
        self._header()

    def _header(self) -> None:
        width = self.table.size.width or self.size.width
        cells = [Text(title, justify="right" if title in ("ttft", "dur", "in", "out") else "left")
                 for title, _ in COLUMNS]
        self.query_one("#requests-header", Static).update(layout_row(cells, width))

    def rows_changed(self, new: int) -> None:
        self.table.rows_changed(new)
        shown, dropped = len(self.store), self.store.dropped
        self.border_subtitle = f"{shown} shown" + (f" · {dropped} older dropped from view" if dropped else "")

    def on_requests_table_highlighted(self, message: RequestsTable.Highlighted) -> None:
        flow = message.flow
        reason = self.query_one("#requests-reason", Static)
        if flow is None:
            reason.update("No requests yet.")
            return
        why = flow.decision.reason if flow.decision else (flow.error or "not routed yet")
        line = Text.assemble(("#" + str(flow.id) + " ", "bold"), (f"{flow.route or '–'}: ", "cyan"), why)
        if flow.error:
            line.append(f"  error: {flow.error}", style="red")
        reason.update(line)
