"""The live requests table: newest first, virtualised (only visible rows render), rows update in place.

count_tokens calls are secondary (dim), and a run of them (``/context`` fires ~26 at once) collapses
into one row so they cannot push the model calls out of view; ``t`` shows them one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

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
#: below these widths a column is left out, so the model column keeps room to be read
HIDE_BELOW = {"time": 100, "ttft": 72, "#": 62, "in": 54}


def _widths(total: int) -> list[int]:
    """Column widths for a total width (0 = column hidden); the model column takes the rest."""
    widths = [0 if total < HIDE_BELOW.get(title, 0) else w for title, w in COLUMNS]
    used = sum(widths) + sum(1 for w in widths if w) + 1
    return [max(14, total - used) if title == "provider,model" else w for (title, _), w in zip(COLUMNS, widths, strict=True)]


@dataclass
class CountGroup:
    """Consecutive count_tokens flows shown as one row; ``flows`` newest first."""

    flows: list[Flow]

    @property
    def newest(self) -> Flow:
        return self.flows[0]

    @property
    def oldest(self) -> Flow:
        return self.flows[-1]


Row = Flow | CountGroup


def build_rows(flows: list[Flow], collapse: bool) -> list[Row]:
    """Newest-first flows → rows; with ``collapse``, runs of 2+ count_tokens flows become one group."""
    if not collapse:
        return list(flows)
    rows: list[Row] = []
    run: list[Flow] = []
    for flow in [*flows, None]:
        if flow is not None and flow.kind == "count_tokens":
            run.append(flow)
            continue
        if len(run) > 1:
            rows.append(CountGroup(run))
        elif run:
            rows.append(run[0])
        run = []
        if flow is not None:
            rows.append(flow)
    return rows


def group_cells(group: CountGroup) -> list[Text]:
    flows = group.flows
    failed = sum(1 for f in flows if f.state == "failed")
    running = sum(1 for f in flows if f.state not in ("done", "failed"))
    status = (Text("ERR", style="bold red") if failed else Text("…", style="yellow") if running
              else Text("cnt", style="green"))
    durations = [f.duration_ms for f in flows if f.duration_ms is not None]
    newest = group.newest
    cells = [
        Text(str(newest.id)), Text(fmt.clock(newest.started_at)), Text(newest.route or "–", style="cyan"),
        Text(f"⋯ {len(flows)} token counts (t: show)", style="italic"), status, Text("–", justify="right"),
        Text(fmt.ms(max(durations)) if durations else "–", justify="right"), Text("–", justify="right"),
        Text("–", justify="right"),
    ]
    for cell in cells:
        cell.stylize("dim")
    return cells


def row_cells(flow: Row) -> list[Text]:
    if isinstance(flow, CountGroup):
        return group_cells(flow)
    route = flow.route or "–"
    target = Text(flow.target or (flow.requested_model or "–"))
    status = fmt.status(flow)
    counting = flow.kind == "count_tokens"
    if counting and flow.state == "done":
        status = Text("cnt", style="green")  # a token count, not a model call
    u = flow.usage
    cells = [
        Text(str(flow.id), style="dim"),
        Text(fmt.clock(flow.started_at)),
        Text(route, style="bold magenta" if flow.route == "pinned" else "cyan"),
        target,
        status,
        Text(fmt.ms(flow.first_byte_ms), justify="right"),
        Text(fmt.ms(flow.duration_ms if flow.duration_ms is not None else None), justify="right"),
        Text(fmt.tokens(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
                        or flow.estimated_input_tokens), justify="right"),
        Text(fmt.tokens(u.output_tokens) if flow.state != "pending" and not counting else "–", justify="right"),
    ]
    if counting:
        for cell in cells:
            cell.stylize("dim")
    return cells


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
    RequestsTable { height: 1fr; overflow-x: hidden; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
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
        Binding("t", "toggle_counts", "Token counts"),
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

    class Inspect(Message):
        def __init__(self, flow: Flow) -> None:
            super().__init__()
            self.flow = flow

    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.rows: list[Row] = []
        self._index: dict[int, int] = {}  # flow id → row

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

    def _rebuild(self, follow: int | None) -> None:
        """Recompute the rows; the cursor stays on flow ``follow`` (None: on the newest row)."""
        self.rows = build_rows(self.store.newest_first(), collapse=not self.show_counts)
        self._index = {}
        for i, row in enumerate(self.rows):
            for flow in row.flows if isinstance(row, CountGroup) else (row,):
                self._index[flow.id] = i
        target = self._index.get(follow, self.cursor) if follow is not None else 0
        self.virtual_size = Size(self.row_width, len(self.rows))
        self.cursor = max(0, min(target, len(self.rows) - 1))

    def _anchor(self) -> int | None:
        row = self.current_row
        if row is None or self.cursor == 0:
            return None
        return row.oldest.id if isinstance(row, CountGroup) else row.id

    def rows_changed(self, new: int) -> None:
        """Called after the store ingested flows; keeps the cursor on its flow unless it follows the top."""
        self._rebuild(self._anchor())

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
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        text = layout_row(row_cells(self.rows[index]), self.row_width)
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
        self.query_one("#requests-header", Static).update(layout_row(cells, width))

    def rows_changed(self, new: int) -> None:
        self.table.rows_changed(new)
        shown, dropped = len(self.store), self.store.dropped
        self.border_subtitle = f"{shown} shown" + (f" · {dropped} older dropped from view" if dropped else "")

    def on_requests_table_highlighted(self, message: RequestsTable.Highlighted) -> None:
        self.query_one("#requests-reason", Static).update(detail(message.row))


def _one_line(text: Text) -> Text:
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def detail(row: Row | None) -> Text:
    """Two lines under the table: what the highlighted row is, then its error (or a hint)."""
    if row is None:
        return Text("No requests yet.")
    if isinstance(row, CountGroup):
        first = Text.assemble((f"#{row.oldest.id}–#{row.newest.id} ", "bold"),
                              f"{len(row.flows)} token counts (count_tokens, no model call)")
        return _one_line(Text("\n").join([first, Text("Enter or t shows them one by one", style="dim")]))
    flow = row
    counting = flow.kind == "count_tokens"
    head = Text.assemble((f"#{flow.id} ", "bold"))
    if counting:
        head.append("count_tokens · ", style="bold")
    if flow.decision:
        head.append_text(Text.assemble((flow.decision.route + " ", "cyan"), "→ ",
                                       (f"{flow.decision.provider},{flow.decision.model}", "bold"), " · "))
        head.append(f"{flow.usage.input_tokens} tokens" if counting and flow.state == "done"
                    else flow.decision.reason)
    else:
        head.append("not routed yet" if not flow.error else "not routed", style="dim")
    if flow.error:
        second = Text.assemble(("error ", "bold red"), (f"{flow.status or ''} {flow.error}".strip(), "red"))
    else:
        second = Text("Enter: inspect · t: token counts one by one / collapsed", style="dim")
    return _one_line(Text("\n").join([head, second]))
