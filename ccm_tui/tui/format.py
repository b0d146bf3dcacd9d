"""Small formatters shared by the panes and the inspector (no widgets here)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from rich.text import Text

from ..flow import Flow


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"


def tokens(value: int | None) -> str:
    if not value:
        return "–" if value is None else "0"
    if value < 10_000:
        return str(value)
    return f"{value / 1000:.1f}k" if value < 1_000_000 else f"{value / 1_000_000:.2f}M"


def usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


def fit_columns(columns: tuple[tuple[str, int], ...], widths: dict[str, int], available: int) -> list[str]:
    """The columns (display order) that fit in ``available`` cells; the lowest priority goes first.

    ``columns`` is ``(name, priority)`` pairs; each kept column also costs 2 cells of padding.
    """
    kept = [name for name, _ in columns]
    priority = dict(columns)
    while kept and sum(widths[n] + 2 for n in kept) > available:
        kept.remove(min(kept, key=lambda n: priority[n]))
    return kept


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def status(flow: Flow) -> Text:
    """Status cell: HTTP code coloured by outcome, or the live state."""
    if flow.state == "failed":
        return Text(str(flow.status or "ERR"), style="bold red")
    if flow.state == "done":
        code = flow.status or 200
        return Text(str(code), style="green" if code < 400 else "bold red")
    if flow.state == "streaming":
        return Text("▸", style="bold cyan")
    return Text("…", style="yellow")


def fit_target(name: str, width: int, others: Iterable[str] = ()) -> str:
    """``provider,model`` in ``width`` cells, still telling it apart from ``others``.

    The provider shrinks first (``anth…,claude-sonnet-4-5``), then the model loses its middle (its
    version usually sits at the end); if that still reads like another name, the part where the two
    differ is shown (``…model-one-lo…`` beside ``…model-two-lo…``).
    """
    if len(name) <= width or width < 4:
        return name[:width]
    provider, comma, model = name.partition(",")
    if not comma:
        provider, model = "", name
    room = width - len(model) - 2  # "p…," + model
    if comma and room >= 2:
        fitted = f"{provider[:room]}…,{model}"
    else:
        head = f"{provider[:1]}…," if comma else ""
        budget = width - len(head) - 1
        tail = (budget + 1) // 2
        fitted = head + model[:budget - tail] + "…" + model[len(model) - tail:]
    rivals = [o for o in others if o != name and len(o) > width and fit_target(o, width) == fitted]
    if not rivals:
        return fitted
    differs = max(len(os.path.commonprefix([name, o])) for o in rivals)
    start = max(0, min(differs - (width - 2) // 2, len(name) - (width - 1)))
    window = name[start:start + width - 2]
    return ("…" if start else "") + window + ("…" if start + len(window) < len(name) else "")
