"""``ccm-tui config init|check|import``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..config import ConfigError, default_config_path, load_config, template
from ..secrets import write_private


def _path(args) -> Path:  # type: ignore[no-untyped-def]
    return Path(args.config).expanduser() if args.config else default_config_path()


def init(args) -> int:  # type: ignore[no-untyped-def]
    path = _path(args)
    if path.exists() and not args.force:
        print(f"ccm-tui: {path} exists; use --force to overwrite", file=sys.stderr)
        return 1
    write_private(path, template())
    print(f"wrote {path}")
    return 0


def check(args) -> int:  # type: ignore[no-untyped-def]
    path = _path(args)
    if not path.exists():
        print(f"ccm-tui: {path}: no such config file (create one with `ccm-tui config init`)", file=sys.stderr)
        return 1
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) in {path}", file=sys.stderr)
        return 1
    routes = ", ".join(f"{route} → {target}" for route, target in config.router.routes.items())
    print(f"{path}: OK ({len(config.providers)} provider(s); {routes})")
    return 0


def run(args) -> int:  # type: ignore[no-untyped-def]
    if args.config_command == "init":
        return init(args)
    if args.config_command == "check":
        return check(args)
    from ..importing import run_import

    dest = Path(args.output).expanduser() if args.output else _path(args)
    return run_import(Path(args.source).expanduser(), dest, force=args.force)
