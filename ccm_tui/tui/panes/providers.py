"""Per-provider health: requests, errors, p50/p95 latency and TTFT, tokens, cost, latency sparkline."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...stats import FlowStore, cache_hit_rate, sparkline
from .. import format as fmt


class StatPane(Static, can_focus=True):
    """A focusable, zoomable pane whose content is re-rendered from the store."""

    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    StatPane { border: round $primary-darken-1; height: 1fr; padding: 0 1; overflow-y: auto; }
    StatPane:focus { border: round $accent; }
    """

    def __init__(self, store: FlowStore, title: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.store = store
        self.border_title = title
        self._height = -1

    def on_mount(self) -> None:
        self.update_view()

    def on_resize(self) -> None:  # columns are chosen for the width
        self.update_view()

    def update_view(self) -> None:
        """Re-render; lay the screen out again only when the content's height changed (a layout pass
        costs tens of ms on the UI thread, and this runs up to 10 times a second while requests flow)."""
        content = self.build()
        width = self.content_size.width
        if width <= 0:
            self.update(content)
            return
        height = content_height(content, self.app.console, width)
        self.update(content, layout=height != self._height)
        self._height = height

    def build(self) -> Table | Text:
        raise NotImplementedError


def content_height(content: RenderableType, console: Console, width: int) -> int:
    """Lines ``content`` takes at ``width``, cheaply for what the stat panes show (tables whose cells do
    not wrap, texts, groups of them); anything else is rendered to count."""
    if isinstance(content, Group):
        return sum(content_height(part, console, width) for part in content.renderables)
    if isinstance(content, Table) and all(column.no_wrap for column in content.columns):
        return len(content.rows) + (1 if content.show_header else 0)
    if isinstance(content, Text):
        return len(content.wrap(console, width))
    return len(console.render_lines(content, console.options.update_width(width), pad=False))


# (header, priority): when the pane is too narrow, the lowest priority columns go first
COLUMNS = (("req", 6), ("err", 5), ("p50", 4), ("p95", 2), ("ttft", 1), ("in", 3), ("out", 3), ("cache", 3),
           ("cost", 2), ("bad tools", 4), ("latency", 0))
NAME_MIN = 10  # the provider column never gets narrower than this (or its longest name)
MODEL_PREFIX = " └ "  # a per-model row under its provider (only the tool-call rate)


def bad_tools(invalid: int, checked: int) -> Text:
    """Share of the provider's tool calls that did not match their schema (— before any)."""
    if not checked:
        return Text("—", style="dim")
    return Text(f"{100 * invalid / checked:.0f}% of {checked}", style="bold red" if invalid else "dim")


def cache_rate(cache_read: int, other_input: int) -> Text:
    """Share of the input served from the provider's prompt cache (— before any input)."""
    rate = cache_hit_rate(cache_read, other_input)
    if rate is None:
        return Text("—", style="dim")
    return Text(f"{rate:.0%}", style="green" if rate >= 0.5 else "yellow" if rate >= 0.2 else "dim")


class ProvidersPane(StatPane):
    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(store, "Providers", **kwargs)

    def build(self) -> Table | Text:
        if not self.store.providers:
            return Text("No finished requests yet.", style="dim")
        rows: list[tuple[str, dict[str, Text]]] = []
        for name, stats in sorted(self.store.providers.items()):
            t = stats.totals
            rows.append((name, {
                "req": Text(str(t.requests)),
                "err": Text(str(t.errors), style="bold red" if t.errors else "dim"),
                "p50": Text(fmt.ms(stats.p("latency", 50))), "p95": Text(fmt.ms(stats.p("latency", 95))),
                "ttft": Text(fmt.ms(stats.p("ttft", 50))),
                "in": Text(fmt.tokens(t.input_tokens)), "out": Text(fmt.tokens(t.output_tokens)),
                "cache": cache_rate(t.cache_read_tokens, t.input_tokens),
                "cost": Text(fmt.usd(t.cost_usd)),
                "bad tools": bad_tools(*self.store.invalid_tool_rate(name)),
                "latency": Text(sparkline(stats.latency_ms, 10), style="green"),
            }))
            rows += self._model_rows(name)
        widths = {col: max([len(col)] + [cells[col].cell_len for _, cells in rows if col in cells])
                  for col, _ in COLUMNS}
        name_width = min(max(len(name) for name, _ in rows), NAME_MIN)
        available = self.content_size.width or 200
        kept = fmt.fit_columns(COLUMNS, widths, available - max(name_width, len("provider")))
        table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1), header_style="bold")
        table.add_column("provider", no_wrap=True, overflow="ellipsis", ratio=1, min_width=name_width)
        for col in kept:
            table.add_column(col, justify="left" if col == "latency" else "right", no_wrap=True,
                             min_width=widths[col])
        for name, cells in rows:
            label = Text(name, style="dim") if name.startswith(MODEL_PREFIX) else Text(name, style="bold")
            table.add_row(label, *(cells.get(col, Text("")) for col in kept))
        return table

    def _model_rows(self, provider: str) -> list[tuple[str, dict[str, Text]]]:
        """The tool-call rate per model, under a provider that served several models' tool calls."""
        models = sorted((target.split(",", 1)[1], counts) for target, counts in self.store.tool_calls.items()
                        if target.split(",", 1)[0] == provider and counts[0])
        if len(models) < 2:
            return []
        return [(MODEL_PREFIX + model, {"bad tools": bad_tools(invalid, checked)})
                for model, (checked, invalid) in models]
