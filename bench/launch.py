"""Run ``ccm-tui serve`` with an experimental speed-up, to measure whether it pays (bench only).

    python bench/launch.py [--asyncio] [--orjson] serve --config F --port 0

``--asyncio``: asyncio's own loop instead of uvloop (the default where installed). ``--orjson``: a global shim making ``json.dumps`` /
``json.loads`` call orjson (compact output, keyword options ignored): an upper bound of what a
faster JSON library would buy, not how the project would adopt it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _orjson_shim() -> None:
    import orjson  # type: ignore[import-not-found]

    plain_dumps = json.dumps

    def dumps(obj: Any, **kwargs: Any) -> str:
        try:
            return orjson.dumps(obj, default=kwargs.get("default")).decode()
        except TypeError:
            return plain_dumps(obj, **kwargs)

    def loads(s: str | bytes, **kwargs: Any) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            raise json.JSONDecodeError(str(exc), s if isinstance(s, str) else "", 0) from None

    json.dumps, json.loads = dumps, loads  # type: ignore[assignment]


def main() -> int:
    argv = sys.argv[1:]
    if "--orjson" in argv:
        argv.remove("--orjson")
        _orjson_shim()  # before anything binds json.dumps at import (httpx does)
    if "--asyncio" in argv:
        argv.remove("--asyncio")
        os.environ["CCM_LOOP"] = "asyncio"
    from ccm_tui.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
