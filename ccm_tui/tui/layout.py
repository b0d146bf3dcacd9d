"""How the dashboard's panes share its height: a defined order of what shrinks and what goes first.

Requests keeps at least :data:`REQUESTS_MIN` rows and takes whatever is left. The other panes get
their minimum in priority order (Routes, Tokens, Providers, Sessions); one whose minimum no longer
fits is hidden, the lowest priority first. What remains grows them, again in priority order, up
to their natural maximum. No pane is ever cut off by the bottom of the screen.
"""

from __future__ import annotations

REQUESTS_MIN = 8  # border, header, three rows, the two detail lines
#: (pane id, least useful height, most it uses), the most important first; heights include the border
PANES: tuple[tuple[str, int, int], ...] = (
    ("routes", 5, 12),
    ("tokens", 4, 14),
    ("providers", 4, 9),
    ("sessions", 4, 10),
)


def share_height(height: int, natural: dict[str, int] | None = None) -> dict[str, int]:
    """Pane id → the most rows it may take (0: hidden) for a dashboard ``height`` rows high;
    ``natural``: the height each pane's content asks for now (a pane never gets more than that)."""
    natural = natural or {}
    left = max(0, height - REQUESTS_MIN)
    given: dict[str, int] = {}
    fits = True
    for name, least, _ in PANES:
        fits = fits and least <= left  # once one does not fit, the less important ones go too
        given[name] = least if fits else 0
        left -= given[name]
    for name, _, most in PANES:
        if given[name]:
            extra = max(0, min(left, min(most, natural.get(name, most)) - given[name]))
            given[name] += extra
            left -= extra
    return given
