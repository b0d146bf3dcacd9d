"""``ccm-tui route [--config P] FILE``: dry-run the router and print its decision as one JSON object.

FILE is a Messages request body, or a fixture-style object ``{"body": {...}, "headers": {...}}``;
``-`` reads stdin. Exit 0 with the decision; 2 for unreadable or invalid input and config errors;
1 when the router itself rejects the request (nothing can hold it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_config
from ..errors import ProxyError
from ..router import decide


class _InputError(Exception):
    pass


def _read(file: str) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _InputError(f"cannot read {file}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _InputError(f"{file}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _InputError(f"{file}: expected a JSON object, got {type(data).__name__}")
    headers: Any = {}
    if "body" in data and "messages" not in data:
        headers = data.get("headers") or {}
        data = data["body"]
        if not isinstance(data, dict):
            raise _InputError(f"{file}: `body` must be a JSON object")
        if not isinstance(headers, dict):
            raise _InputError(f"{file}: `headers` must be a JSON object")
    if not isinstance(data.get("messages"), list):
        raise _InputError(f"{file}: not a Messages request (no `messages` list)")
    return data, {str(k).lower(): str(v) for k, v in headers.items()}


def run(args: argparse.Namespace) -> int:
    try:
        body, headers = _read(args.file)
    except _InputError as exc:
        print(f"ccm-tui route: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("ccm-tui route: invalid config:", *exc.problems, sep="\n  ", file=sys.stderr)
        return 2
    try:
        decision = decide(body, headers, config)
    except ProxyError as exc:
        print(f"ccm-tui route: {exc.error_type}: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(decision.as_dict(), ensure_ascii=False))
    return 0
