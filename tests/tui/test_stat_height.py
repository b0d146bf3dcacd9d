"""The stat panes lay the screen out again only when their height changes; the height they compute
without rendering must be what rendering gives."""

import pytest
from rich.console import Console, Group
from rich.text import Text

from ccm_tui.stats import Totals
from ccm_tui.tui.panes.providers import content_height
from ccm_tui.tui.panes.tokens import context_bar, totals_table


@pytest.mark.parametrize("width", [12, 20, 40, 78, 120])
def test_content_height_is_the_rendered_height(width):
    console = Console(width=200)
    table = totals_table([("route", {"default": Totals(requests=3), "think": Totals()}),
                          ("model", {"anthropic,claude-sonnet-4-5": Totals(requests=2)})], width)
    head = Text("session 12 requests · in 3.4k · cached 1.2k · out 812 · $0.0123 of $5.00 budget")
    line = Text.assemble(("context ", "bold"), context_bar(1234, 200_000), "  #12 anthropic,claude-sonnet-4-5")
    line.no_wrap, line.overflow = True, "ellipsis"
    for content in (table, head, line, Group(head, line, table), Text("No finished requests yet.")):
        rendered = console.render_lines(content, console.options.update_width(width), pad=False)
        assert content_height(content, console, width) == len(rendered)
