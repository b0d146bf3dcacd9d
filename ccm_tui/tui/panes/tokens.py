"""Session token totals by route and by model, and the last main request's context vs. the window."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ...config import Config
from ...limits import request_window
from ...stats import FlowStore, Totals, context_tokens
from .. import format as fmt
from .providers import StatPane

# (header, priority) of the columns beside the name; narrow panes drop the lowest priority first
COLUMNS = (("by", 6), ("req", 4), ("in", 5), ("cached", 2), ("out", 5), ("cost", 3))
NAME_MIN = 16


def totals_table(groups: list[tuple[str, dict[str, Totals]]], width: int | None = None) -> Table:
    """One table, a section per grouping (route, model), busiest first; columns that do not fit go."""
    rows: list[dict[str, str]] = []
    for label, totals in groups:
        for i, (name, t) in enumerate(sorted(totals.items(), key=lambda kv: -kv[1].requests)):
            rows.append({"by": label if i == 0 else "", "name": name, "req": str(t.requests),
                         "in": fmt.tokens(t.input_tokens), "cached": fmt.tokens(t.cache_read_tokens),
                         "out": fmt.tokens(t.output_tokens), "cost": fmt.usd(t.cost_usd)})
    widths = {col: max([len(col)] + [len(row[col]) for row in rows]) for col, _ in COLUMNS}
    name_width = min(NAME_MIN, max([4] + [len(row["name"]) for row in rows]))
    kept = fmt.fit_columns(COLUMNS, widths, (width or 200) - name_width)
    table = Table(box=None, expand=True, pad_edge=False, padding=(0, 1), header_style="bold")
    for col in kept[:1] if kept and kept[0] == "by" else []:
        table.add_column(col, style="dim", no_wrap=True, min_width=widths[col])
    table.add_column("name", no_wrap=True, overflow="ellipsis", ratio=1, min_width=name_width)
    for col in kept:
        if col != "by":
            table.add_column(col, justify="right", no_wrap=True, min_width=widths[col])
    room = (width or 200) - sum(widths[c] + 1 for c in kept)  # what the name column gets (one space apart)
    names = [row["name"] for row in rows]
    for row in rows:
        name = fmt.fit_target(row["name"], max(room, name_width), names)  # two long names never look alike
        cells = [*([row["by"]] if "by" in kept else []), name, *(row[c] for c in kept if c != "by")]
        table.add_row(*map(Text, cells))  # model names come from requests: text, not markup
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
        r = self.store.replays
        if r.requests:
            parts.append(Text(f"replays {r.requests} · in {fmt.tokens(r.input_tokens)} · out "
                              f"{fmt.tokens(r.output_tokens)} · {fmt.usd(r.cost_usd)} (not in the totals)",
                              style="dim"))
        last = self.store.last_main
        if last is not None and last.decision is not None:
            used = context_tokens(last) or 0
            window = request_window(self.config, last.decision.provider, last.decision.model, last.request_headers,
                                    last.requested_model)
            line = Text.assemble(("context ", "bold"), context_bar(used, window), f"  #{last.id} {last.target}")
            line.no_wrap, line.overflow = True, "ellipsis"
            parts.append(line)
        if self.store.routes:
            parts.append(totals_table([("route", self.store.routes), ("model", self.store.models)],
                                      self.content_size.width or None))
        return Group(*parts)
