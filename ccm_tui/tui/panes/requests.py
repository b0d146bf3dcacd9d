"""The live requests table: newest first, virtualised (only visible rows render), rows update in place.

count_tokens calls are secondary (dim), and a run of them (``/context`` fires ~26 at once) collapses
into one row so they cannot push the model calls out of view; ``t`` shows them one by one.

The table follows new traffic (cursor on row 0, view at the top) until the user moves the cursor or
scrolls; then the view stays on what they look at, and ``f`` (or ``g``/Home) follows again.
Filters compose: the Sessions pane's node, ``/`` text and ``e`` errors-only each narrow the rows,
and Esc clears them all.

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
from textual.widgets import Input, Static

from ...flow import Flow
from ...stats import FlowStore
from .request_rows import (
    COLUMNS,
    CountGroup,
    Row,
    build_rows,
    detail,
    id_width,
    is_error,
    layout_row,
    matches,
    row_cells,
)

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
        Binding("home,g", "top", "Newest", show=False, tooltip="newest request, and follow new ones"),
        Binding("end,G", "bottom", show=False),
        Binding("t", "toggle_counts", "Token counts",
                tooltip="show token counts (count_tokens) one by one / collapse runs of them"),
        Binding("f", "toggle_follow", "Follow", tooltip="follow new requests (cursor on the newest) / stay put"),
        Binding("e", "toggle_errors", "Errors", tooltip="show only failed requests / all"),
        Binding("escape", "clear_filter", "Show all", show=False,
                tooltip="show every request again (clear every filter)"),
    ]
    cursor: reactive[int] = reactive(0, always_update=True)
    follow: reactive[bool] = reactive(True, init=False)
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

    class FilterCleared(Message):
        """Esc cleared every filter (the pane empties its filter box)."""

    class FollowChanged(Message):
        """Following new rows was switched on or off."""

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
        self.names: set[str] = set()  # provider,model names shown (for distinct truncation)
        self.filters: dict[str, tuple[Callable[[Flow], bool], str]] = {}  # kind → (keep, label)
        self.keep: Callable[[Flow], bool] | None = None  # all filters at once: only flows it keeps are rows
        self.filter_label = ""

    def set_filter(self, keep: Callable[[Flow], bool] | None, label: str = "", kind: str = "view") -> None:
        """Show only the flows ``keep`` accepts (None: drop this kind of filter); ``label`` names it.

        Kinds compose: "view" (a Sessions node), "text" (``/``) and "errors" (``e``).
        """
        if keep is None:
            self.filters.pop(kind, None)
        else:
            self.filters[kind] = (keep, label)
        predicates = [k for k, _ in self.filters.values()]
        self.keep = None if not predicates else predicates[0] if len(predicates) == 1 else \
            (lambda flow: all(k(flow) for k in predicates))
        self.filter_label = " · ".join(label for _, label in self.filters.values())
        self._rebuild(None if self.follow else self._anchor())
        self.post_message(self.FilterChanged())

    def filter_text(self, text: str) -> None:
        text = text.strip()
        self.set_filter((lambda flow: matches(flow, text)) if text else None, f"“{text}”", kind="text")

    def action_clear_filter(self) -> None:
        if self.filters:
            self.filters.clear()
            self.set_filter(None)
            self.post_message(self.FilterCleared())

    def action_toggle_errors(self) -> None:
        self.set_filter(None if "errors" in self.filters else is_error, "errors only", kind="errors")

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.cursor = 0
        self.post_message(self.FollowChanged())

    def _pause(self) -> None:
        if self.follow:
            self.follow = False

    def on_mouse_scroll_down(self) -> None:
        self._pause()

    def on_mouse_scroll_up(self) -> None:
        self._pause()

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
        for flow in shown:
            self._remember_name(flow)
        for i, row in enumerate(rows):
            for flow in row.flows if isinstance(row, CountGroup) else (row,):
                self._serial[flow.id] = self._top - i
        target = self._index_of(follow) if follow is not None else 0
        self._settle(self.cursor if target is None else target)

    def _settle(self, cursor: int) -> None:
        self._fit_rows()
        self.cursor = max(0, min(cursor, len(self.rows) - 1))

    def _fit_rows(self) -> None:
        """The virtual size for the rows. With a stable gutter and the height set by the layout, a new
        row count changes only the scrollbar: no layout pass of the whole screen (and its full repaint)
        each time rows come in, up to 10 times a second."""
        size = Size(self.row_width, len(self.rows))
        if size.width != self.virtual_size.width:
            self.virtual_size = size
        elif size != self.virtual_size:
            self.set_reactive(RequestsTable.virtual_size, size)
            self._scroll_update(size)
            self.refresh()

    def _anchor(self) -> int | None:
        row = self.current_row
        if row is None or self.follow:
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
        self._remember_name(flow)

    def _remember_name(self, flow: Flow) -> None:
        """Remember the model names shown, so a truncated one stays distinct from the others."""
        name = flow.target or flow.requested_model
        if name and name not in self.names and len(self.names) < 256:
            self.names.add(name)
            self._lines = {}
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

        Following, the cursor stays on row 0 and the view at the top; paused, the cursor stays on its
        flow and the view on the same rows.
        """
        anchor = self._anchor()
        before = self.cursor
        newest = self.rows[0].newest.id if self.rows and isinstance(self.rows[0], CountGroup) else \
            self.rows[0].id if self.rows else 0
        for flow in flows:
            serial = self._serial.get(flow.id)
            if serial is not None:
                self._lines.pop(serial, None)  # a filtered row whose flow no longer matches stays until rebuilt
                self._remember_name(flow)
            elif self.store.get(flow.id) is flow and (self.keep is None or self.keep(flow)):
                if flow.id < newest:  # an older flow that matches the filter only now (it failed, say)
                    self._rebuild(anchor)
                    return
                self._add(flow)
                newest = flow.id
        self._trim()
        cursor = self._index_of(anchor) if anchor is not None else 0
        cursor = self.cursor if cursor is None else cursor
        self._fit_rows()
        if cursor != before and not self.follow:  # rows came in above: keep the same rows in view
            self.scroll_to(y=self.scroll_y + cursor - before, animate=False, immediate=True)
        self._settle(cursor)

    def on_mount(self) -> None:
        self._rebuild(None)  # whatever the store took in before the table existed

    def watch_show_counts(self, show: bool) -> None:
        row = self.current_row
        anchor = None if row is None or self.follow else row.newest.id if isinstance(row, CountGroup) else row.id
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
            self._pause()
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_top(self) -> None:
        self.cursor = 0
        self.follow = True

    def action_bottom(self) -> None:
        self._pause()
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
            text = layout_row(row_cells(self.rows[index]), self.row_width, self.id_width, self.names)
            strip = Strip(list(text.render(self.app.console))).adjust_cell_length(width, base)
            strip = self._lines[serial] = Strip([Segment(s.text, base + s.style if s.style else base) for s in strip])
        if index == self.cursor:
            return strip.apply_style(base + self.get_component_rich_style("requests--cursor"))
        return strip


class RequestsPane(Vertical):
    """Header, table and a status line with the highlighted request's route reason."""

    ALLOW_MAXIMIZE = True
    BINDINGS = [Binding("slash", "search", "Filter", tooltip="filter requests by text (route, model, status, error…)"),
                Binding("escape", "end_search", "Show all", show=False)]
    DEFAULT_CSS = """
    RequestsPane { border: round $primary-darken-1; height: 1fr; }
    RequestsPane #requests-filter { display: none; height: 1; border: none; padding: 0 1; }
    RequestsPane #requests-filter.shown { display: block; }
    RequestsPane:focus-within { border: round $accent; }
    RequestsPane #requests-header { height: 1; text-style: bold; color: $text-muted; }
    RequestsPane #requests-reason { height: 2; color: $text-muted; padding-right: 1; text-wrap: nowrap;
                                    text-overflow: ellipsis; }
    """

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.border_title = "Requests · following"

    def compose(self):  # type: ignore[no-untyped-def]
        yield Input(placeholder="filter: route, provider, model, status, error, note (Enter: keep, Esc: clear)",
                    id="requests-filter")
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
        self.query_one("#requests-header", Static).update(layout_row(cells, width, self.table.id_width), layout=False)

    def rows_changed(self, flows: Iterable[Flow] = ()) -> None:
        ids = self.table.id_width
        self.table.rows_changed(flows)
        if self.table.id_width != ids:
            self._header()
        self._subtitle()
        if not self.table.follow:
            self._title()

    def on_requests_table_filter_changed(self, message: RequestsTable.FilterChanged) -> None:
        message.stop()
        self._subtitle()

    def on_requests_table_follow_changed(self, message: RequestsTable.FollowChanged) -> None:
        message.stop()
        self._title()

    def _title(self) -> None:
        table = self.table
        above = table.scroll_offset.y
        self.border_title = "Requests · following" if table.follow else \
            f"Requests · paused{f' · {above} newer above' if above else ''} (f: follow)"

    def on_requests_table_filter_cleared(self, message: RequestsTable.FilterCleared) -> None:
        message.stop()
        box = self.query_one("#requests-filter", Input)
        with box.prevent(Input.Changed):
            box.value = ""
        box.remove_class("shown")

    def action_search(self) -> None:
        box = self.query_one("#requests-filter", Input)
        box.add_class("shown")
        box.focus()

    def action_end_search(self) -> None:
        """Esc in the filter box: clear the text filter and go back to the table."""
        box = self.query_one("#requests-filter", Input)
        box.value = ""
        box.remove_class("shown")
        self.table.filter_text("")
        self.table.focus()

    def on_input_changed(self, message: Input.Changed) -> None:
        message.stop()
        self.table.filter_text(message.value)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        if not message.value.strip():
            message.input.remove_class("shown")
        self.table.focus()

    def _subtitle(self) -> None:
        table, dropped = self.table, self.store.dropped
        shown = f"{len(table.rows)} rows of {len(self.store)} · {table.filter_label} (Esc: all)" if table.keep \
            else f"{len(self.store)} requests"
        self.border_subtitle = shown + (f" · {dropped} older dropped from view" if dropped else "")

    def on_requests_table_highlighted(self, message: RequestsTable.Highlighted) -> None:
        table = self.table
        empty = message.row is None and table.keep is not None and len(self.store)
        self.query_one("#requests-reason", Static).update(  # fixed height: no layout pass for each new row
            Text(f"No request matches {table.filter_label} (Esc: all)", style="dim") if empty else detail(message.row),
            layout=False)
