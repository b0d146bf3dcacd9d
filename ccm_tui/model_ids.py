"""Model ids the proxy lists in ``/v1/models`` for Claude Code's ``/model`` picker, and back.

Claude Code's gateway discovery keeps only ids that look like Claude's (2.1.197: ids starting
``claude``/``anthropic``; 2.1.33x: ids containing either), so each configured ``provider,model`` is
listed as ``claude-ccm/provider,model``; the router reads such an id as that target.
"""

from __future__ import annotations

ALIAS_PREFIX = "claude-ccm/"


def alias(provider: str, model: str) -> str:
    return f"{ALIAS_PREFIX}{provider},{model}"


def unalias(model: str) -> str | None:
    """``"provider,model"`` for an id made by :func:`alias`, else None."""
    if model.startswith(ALIAS_PREFIX) and "," in model:
        return model[len(ALIAS_PREFIX):]
    return None
