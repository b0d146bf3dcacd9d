"""Session token totals by route and by model, and the last main request's context vs. the window."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ...config import Config
from ...limits import limits_for
from ...stats import FlowStore, Totals, context_tokens
from .. import format as fmt
from .providers import StatPane


def totals_table(groups: list[tuple[str, dict[str, Totals]]]) -> Table:
    """One table, a section per grouping (route, model), busiest first."""
    table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1), header_style="bold")
    table.add_column("by", style="dim", no_wrap=True)
    table.add_column("name", no_wrap=True, overflow="ellipsis", ratio=1)
    for name in ("req", "in", "cached", "out", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    for label, rows in groups:
        for i, (name, t) in enumerate(sorted(rows.items(), key=lambda kv: -kv[1].requests)):
            table.add_row(label if i == 0 else "", name, str(t.requests), fmt.tokens(t.input_tokens),
                          fmt.tokens(t.cache_read_tokens), fmt.tokens(t.output_tokens), fmt.usd(t.cost_usd))
    return table


def context_bar(used: int, window: int | None, width: int = 16) -> Text:
    if not window:
        return Text(f"{fmt.tokens(used)} tokens (window unknown)")
    share = min(1.0, used / window)
    filled = round(share * width)
    style = "green" if share < 0.6 else "yellow" if share < 0.85 else "bold red"
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"),
                         f" {fmt.tokens(used)} / {fmt.tokens(window)} ({share:.0%})")


class TokensPane(StatPane):
    def __init__(self, store: FlowStore, config: Config, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(store, "Tokens", **kwargs)
        self.config = config

    def build(self) -> Group | Text:  # type: ignore[override]
        s = self.store.session
        head = Text.assemble(("session ", "bold"), f"{s.requests} requests · in {fmt.tokens(s.input_tokens)} · "
                             f"cached {fmt.tokens(s.cache_read_tokens)} · out {fmt.tokens(s.output_tokens)} · "
                             f"{fmt.usd(s.cost_usd)}")
        if self.config.budget_usd:
            head.append(f" of {fmt.usd(self.config.budget_usd)} budget",
                        style="bold red" if s.cost_usd >= self.config.budget_usd else "")
        parts: list = [head]
        last = self.store.last_main
        if last is not None and last.decision is not None:
            used = context_tokens(last) or 0
            window = limits_for(self.config, last.decision.provider, last.decision.model).context_window
            line = Text.assemble(("context ", "bold"), context_bar(used, window), f"  #{last.id} {last.target}")
            line.no_wrap, line.overflow = True, "ellipsis"
            parts.append(line)
        if self.store.routes:
            parts.append(totals_table([("route", self.store.routes), ("model", self.store.models)]))
        return Group(*parts)
