"""What one row of the requests table shows: its cells, their layout at a width, the collapsed runs
of token counts, and the two detail lines under the table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text

from ...flow import Flow
from .. import format as fmt

# (title, width); the model column takes what is left
COLUMNS: tuple[tuple[str, int], ...] = (
    ("#", 4), ("time", 8), ("route", 11), ("provider,model", 0), ("st", 4),
    ("ttft", 6), ("dur", 6), ("in", 6), ("out", 5),
)
MODEL_COLUMN = 3
#: below these widths a column is left out, so the model column keeps room to be read
HIDE_BELOW = {"time": 100, "ttft": 72, "#": 62, "in": 54}


def id_width(largest_id: int) -> int:
    """The "#" column fits the largest id shown (ids grow past 9999 in a long session)."""
    return max(COLUMNS[0][1], len(str(largest_id)))


def _widths(total: int, ids: int = COLUMNS[0][1]) -> list[int]:
    """Column widths for a total width (0 = column hidden); the model column takes the rest."""
    widths = [0 if total < HIDE_BELOW.get(title, 0) else ids if title == "#" else w for title, w in COLUMNS]
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


def is_error(flow: Flow) -> bool:
    return flow.state == "failed" or (flow.status or 0) >= 400


def matches(flow: Flow, text: str) -> bool:
    """Whether ``text`` (any case) occurs in the flow's route, provider, model, status, error or notes."""
    needle = text.lower()
    fields = [flow.route or "", flow.target or "", flow.requested_model or "", str(flow.status or ""), flow.state,
              flow.error or "", *flow.notes, route_label(flow)]
    if flow.replay_of is not None:
        fields.append(f"replay of #{flow.replay_of}")
    return any(needle in value.lower() for value in fields)


def route_label(flow: Flow) -> str:
    """What the route column says: ``local`` for a token count answered here, ``replay #N`` for a replay."""
    if flow.replay_of is not None:
        label = f"replay #{flow.replay_of}"
        return label if len(label) <= COLUMNS[2][1] else f"↻ #{flow.replay_of}"  # the route column's width
    if flow.kind == "count_tokens" and flow.upstream_url is None and flow.state in ("done", "failed"):
        return "local"
    return flow.route or "–"


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
    route = route_label(flow)
    target = Text(flow.target or (flow.requested_model or "–"))
    status = fmt.status(flow)
    counting = flow.kind == "count_tokens"
    if counting and flow.state == "done":
        status = Text("cnt", style="green")  # a token count, not a model call
    u = flow.usage
    cells = [
        Text(str(flow.id), style="dim"),
        Text(fmt.clock(flow.started_at)),
        Text(route, style="bold magenta" if flow.route == "pinned" else "yellow" if flow.replay_of else "cyan"),
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


def layout_row(cells: list[Text], width: int, ids: int = COLUMNS[0][1], names: Iterable[str] = ()) -> Text:
    """The cells at their column widths; a model name too long for its column stays distinct from ``names``."""
    line = Text(no_wrap=True, overflow="ellipsis")
    for index, (w, cell) in enumerate(zip(_widths(width, ids), cells, strict=True)):
        if not w:
            continue
        if index == MODEL_COLUMN and cell.cell_len > w:
            fitted = Text(fmt.fit_target(cell.plain, w, names), style=cell.style)
            for span in cell.spans:
                fitted.stylize(span.style)
            cell = fitted
        cell = cell.copy()
        cell.truncate(w, overflow="ellipsis", pad=True)
        if cell.justify == "right":
            cell = Text(" " * (w - cell.cell_len)) + cell if cell.cell_len < w else cell
            cell.truncate(w, pad=True)
        line.append_text(cell)
        line.append(" ")
    return line


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
    if flow.replay_of is not None:
        head.append(f"replay of #{flow.replay_of} (not in the totals) · ", style="bold yellow")
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
