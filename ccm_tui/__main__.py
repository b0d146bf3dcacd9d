import sys

if sys.argv[1:] == ["statusline"]:  # claude runs this on every refresh: skip the parser
    from .commands.statusline import run
else:
    from .cli import main as run

raise SystemExit(run())
