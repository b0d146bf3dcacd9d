"""Per-provider health: requests, errors, p50/p95 latency and TTFT, tokens, cost, latency sparkline."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...stats import FlowStore, sparkline
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

    def on_mount(self) -> None:
        self.update_view()

    def update_view(self) -> None:
        self.update(self.build())

    def build(self) -> Table | Text:
        raise NotImplementedError


class ProvidersPane(StatPane):
    def __init__(self, store: FlowStore, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(store, "Providers", **kwargs)

    def build(self) -> Table | Text:
        if not self.store.providers:
            return Text("No finished requests yet.", style="dim")
        table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1), header_style="bold")
        table.add_column("provider", no_wrap=True, overflow="ellipsis", ratio=1)
        for name in ("req/err", "p50/p95", "ttft p50", "in/out", "cost"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("latency", no_wrap=True)
        for name, stats in sorted(self.store.providers.items()):
            t = stats.totals
            table.add_row(
                Text(name, style="bold"),
                Text.assemble(str(t.requests), "/", (str(t.errors), "bold red" if t.errors else "dim")),
                f"{fmt.ms(stats.p('latency', 50))}/{fmt.ms(stats.p('latency', 95))}", fmt.ms(stats.p("ttft", 50)),
                f"{fmt.tokens(t.input_tokens)}/{fmt.tokens(t.output_tokens)}", fmt.usd(t.cost_usd),
                Text(sparkline(stats.latency_ms, 10), style="green"),
            )
        return table
