"""ccm-tui: run Claude Code against any model, through an embedded routing proxy."""

import sys

__version__ = "0.1.0"

# `import httpx` also imports its command-line client, and with it rich, pygments and click
# (+6 MB resident, ~40 ms) that a proxy never uses. A None entry makes that optional import fail,
# so httpx keeps its stub; it changes nothing once httpx is already imported.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
