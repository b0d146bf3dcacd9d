"""ccm-tui: run Claude Code against any model, through an embedded routing proxy."""

__version__ = "0.1.0"
