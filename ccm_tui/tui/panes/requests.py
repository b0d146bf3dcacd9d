"""The live requests table: newest first, virtualised (only visible rows render), rows update in place.

count_tokens calls are secondary (dim), and a run of them (``/context`` fires ~26 at once) collapses
into one row so they cannot push the model calls out of view; ``t`` shows them one by one.

Rows are maintained incrementally: a flush adds its new flows at the top, drops what the store
dropped at the bottom, and forgets the rendered line of each row whose flow changed; other rows'
lines come from a cache (a flush costs what it changed, not the 5,000 rows of history).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from rich.segment import Segment
from rich.style import Style
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
from .request_rows import COLUMNS, CountGroup, Row, build_rows, detail, id_width, layout_row, row_cells

LINE_CACHE = 1024  # rendered lines kept; more are dropped all at once (scrolling renders them again)
__all__ = ["COLUMNS", "CountGroup", "RequestsPane", "RequestsTable", "Row", "build_rows", "detail", "layout_row",
           "row_cells"]


class RequestsTable(ScrollView, can_focus=True):
    """Rows come from a :class:`FlowStore`; row 0 is the newest flow."""

    COMPONENT_CLASSES = {"requests--cursor"}
    DEFAULT_CSS = """
    RequestsTable { height: 1fr; overflow-x: hidden; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    RequestsTable > .requests--cursor { background: $accent 40%; }
    RequestsTable:focus > .requests--cursor { background: $accent; color: $text; text-style: bold; }
    """
    BINDINGS = [
        Binding("enter", "inspect", "Inspect", tooltip="open the inspector (on a run of token counts: show them)"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", show=False),
        Binding("pagedown", "move(20)", show=False),
        Binding("home,g", "top", "Newest", show=False),
        Binding("end,G", "bottom", show=False),
        Binding("t", "toggle_counts", "Token counts",
                tooltip="show token counts (count_tokens) one by one / collapse runs of them"),
        Binding("escape", "clear_filter", "Show all", show=False, tooltip="show every request again (clear the filter)"),
    ]
    cursor: reactive[int] = reactive(0, always_update=True)
    show_counts: reactive[bool] = reactive(False, init=False)

    class Highlighted(Message):
        def __init__(self, row: Row | None) -> None:
            super().__init__()
            self.row = row

        @property
        def flow(self) -> Flow | None:
            return self.row.newest if isinstance(self.row, CountGroup) else self.row

    class FilterChanged(Message):
        """The filter was set or cleared."""

    class Inspect(Message):
        def __init__(self, flow: Flow) -> None:
            super().__init__()
            self.flow = flow

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.rows: deque[Row] = deque()  # rows[0] is the newest
        self._serial: dict[int, int] = {}  # flow id → serial of its row; a row's index is top - serial
        self._top = 0  # serial of rows[0]
        self._lines: dict[int, Strip] = {}  # row serial → rendered line (without the cursor)
        self._lines_key: tuple[int, int, Style] | None = None
        self.id_width = id_width(0)
        self.keep: Callable[[Flow], bool] | None = None  # the filter: only flows it keeps are rows
        self.filter_label = ""

    def set_filter(self, keep: Callable[[Flow], bool] | None, label: str = "") -> None:
        """Show only the flows ``keep`` accepts (None: all of them); ``label`` names the filter."""
        self.keep, self.filter_label = keep, label if keep is not None else ""
        self._rebuild(None)
        self.post_message(self.FilterChanged())

    def action_clear_filter(self) -> None:
        if self.keep is not None:
            self.set_filter(None)

    def _shown(self) -> list[Flow]:
        flows = self.store.newest_first()
        return flows if self.keep is None else [f for f in flows if self.keep(f)]

    @property
    def current_row(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    @property
    def current(self) -> Flow | None:
        """The highlighted flow (a collapsed group's newest one)."""
        row = self.current_row
        return row.newest if isinstance(row, CountGroup) else row

    @property
    def row_width(self) -> int:
        return self.scrollable_content_region.width or self.size.width

    def _index_of(self, flow_id: int | None) -> int | None:
        serial = self._serial.get(flow_id) if flow_id is not None else None
        return None if serial is None else self._top - serial

    def _rebuild(self, follow: int | None) -> None:
        """Recompute every row (the collapse setting changed); the cursor stays on flow ``follow``."""
        shown = self._shown()
        rows = build_rows(shown, collapse=not self.show_counts)
        self.rows, self._top, self._serial, self._lines = deque(rows), len(rows), {}, {}
        self.id_width = id_width(max((f.id for f in shown), default=0))
        for i, row in enumerate(rows):
            for flow in row.flows if isinstance(row, CountGroup) else (row,):
                self._serial[flow.id] = self._top - i
        target = self._index_of(follow) if follow is not None else 0
        self._settle(self.cursor if target is None else target)

    def _settle(self, cursor: int) -> None:
        self.virtual_size = Size(self.row_width, len(self.rows))
        self.cursor = max(0, min(cursor, len(self.rows) - 1))

    def _anchor(self) -> int | None:
        row = self.current_row
        if row is None or self.cursor == 0:
            return None
        return row.oldest.id if isinstance(row, CountGroup) else row.id

    def _add(self, flow: Flow) -> None:
        """A new flow at the top; with collapsing, a count joins a run of counts on top."""
        top = self.rows[0] if self.rows else None
        if flow.kind == "count_tokens" and not self.show_counts and top is not None and (
                isinstance(top, CountGroup) or top.kind == "count_tokens"):
            if isinstance(top, CountGroup):
                top.flows.insert(0, flow)
            else:
                self.rows[0] = CountGroup([flow, top])
            self._lines.pop(self._top, None)
        else:
            self.rows.appendleft(flow)
            self._top += 1
        self._serial[flow.id] = self._top
        self.id_width = max(self.id_width, id_width(flow.id))

    def _trim(self) -> None:
        """Drop the bottom rows whose flows the store no longer keeps (it drops the oldest first)."""
        store = self.store
        while self.rows:
            bottom = self.rows[-1]
            flows = bottom.flows if isinstance(bottom, CountGroup) else [bottom]
            kept = [f for f in flows if store.get(f.id) is f]
            if len(kept) == len(flows):
                return
            for flow in flows:
                if store.get(flow.id) is not flow:
                    self._serial.pop(flow.id, None)
            self._lines.pop(self._top - len(self.rows) + 1, None)
            if kept:
                self.rows[-1] = CountGroup(kept) if len(kept) > 1 else kept[0]
                return
            self.rows.pop()

    def rows_changed(self, flows: Iterable[Flow] = ()) -> None:
        """The store ingested ``flows`` (in that order): new ones go on top, changed rows render again.

        The cursor stays on its flow unless it follows the top.
        """
        anchor = self._anchor()
        newest = self.rows[0].newest.id if self.rows and isinstance(self.rows[0], CountGroup) else \
            self.rows[0].id if self.rows else 0
        for flow in flows:
            serial = self._serial.get(flow.id)
            if serial is not None:
                self._lines.pop(serial, None)  # a filtered row whose flow no longer matches stays until rebuilt
            elif self.store.get(flow.id) is flow and (self.keep is None or self.keep(flow)):
                if flow.id < newest:  # an older flow that matches the filter only now (it failed, say)
                    self._rebuild(anchor)
                    return
                self._add(flow)
                newest = flow.id
        self._trim()
        cursor = self._index_of(anchor) if anchor is not None else 0
        self._settle(self.cursor if cursor is None else cursor)

    def on_mount(self) -> None:
        self._rebuild(None)  # whatever the store took in before the table existed

    def watch_show_counts(self, show: bool) -> None:
        row = self.current_row
        anchor = None if row is None else row.newest.id if isinstance(row, CountGroup) else row.id
        self._rebuild(anchor)
        self.notify("token counts shown one by one" if show else "runs of token counts collapsed", timeout=2)

    def action_toggle_counts(self) -> None:
        self.show_counts = not self.show_counts

    def watch_cursor(self, cursor: int) -> None:
        self.scroll_to_region(Region(0, cursor, 1, 1), animate=False, force=True)
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.row_width, len(self.rows))
        self._lines = {}

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_top(self) -> None:
        self.cursor = 0

    def action_bottom(self) -> None:
        self.cursor = max(0, len(self.rows) - 1)

    def action_inspect(self) -> None:
        row = self.current_row
        if isinstance(row, CountGroup):  # Enter on a collapsed run opens it
            self.show_counts = True
        elif row is not None:
            self.post_message(self.Inspect(row))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = self.scroll_offset.y + y
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        if self._lines_key != (width, self.id_width, base) or len(self._lines) > LINE_CACHE:
            self._lines, self._lines_key = {}, (width, self.id_width, base)
        serial = self._top - index
        strip = self._lines.get(serial)
        if strip is None:
            text = layout_row(row_cells(self.rows[index]), self.row_width, self.id_width)
            strip = Strip(list(text.render(self.app.console))).adjust_cell_length(width, base)
            strip = self._lines[serial] = Strip([Segment(s.text, base + s.style if s.style else base) for s in strip])
        if index == self.cursor:
            return strip.apply_style(base + self.get_component_rich_style("requests--cursor"))
        return strip


class RequestsPane(Vertical):
    """Header, table and a status line with the highlighted request's route reason."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    RequestsPane { border: round $primary-darken-1; height: 1fr; }
    RequestsPane:focus-within { border: round $accent; }
    RequestsPane #requests-header { height: 1; text-style: bold; color: $text-muted; }
    RequestsPane #requests-reason { height: 2; color: $text-muted; padding-right: 1; text-wrap: nowrap;
                                    text-overflow: ellipsis; }
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
        width = self.table.row_width or self.size.width
        cells = [Text(title, justify="right" if title in ("ttft", "dur", "in", "out") else "left")
                 for title, _ in COLUMNS]
        self.query_one("#requests-header", Static).update(layout_row(cells, width, self.table.id_width))

    def rows_changed(self, flows: Iterable[Flow] = ()) -> None:
        ids = self.table.id_width
        self.table.rows_changed(flows)
        if self.table.id_width != ids:
            self._header()
        self._subtitle()

    def on_requests_table_filter_changed(self, message: RequestsTable.FilterChanged) -> None:
        message.stop()
        self._subtitle()

    def _subtitle(self) -> None:
        table, dropped = self.table, self.store.dropped
        shown = f"{len(table.rows)} rows of {len(self.store)} · {table.filter_label} (Esc: all)" if table.keep \
            else f"{len(self.store)} shown"
        self.border_subtitle = shown + (f" · {dropped} older dropped from view" if dropped else "")

    def on_requests_table_highlighted(self, message: RequestsTable.Highlighted) -> None:
        self.query_one("#requests-reason", Static).update(detail(message.row))
