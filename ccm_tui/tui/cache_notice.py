"""What a route switch or pin costs in prompt cache: the session's context is not cached on the new model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..claude_launch import default_target
from ..config import Config
from ..proxy.budget import price_for
from ..stats import context_tokens
from . import format as fmt

if TYPE_CHECKING:
    from .app import CcmApp


def cache_move_text(app: CcmApp, before: Config, after: Config) -> str | None:
    """The notice for a main-thread move from ``before``'s model to ``after``'s, or None (no move,
    or no conversation on the old model yet)."""
    old, new = default_target(before), default_target(after)
    last = app.store.last_main
    if old is None or new is None or old == new or last is None or last.decision is None:
        return None
    if (last.decision.provider, last.decision.model) != old:
        return None
    tokens = context_tokens(last) or 0
    if not tokens:
        return None
    price = price_for(after, *new)
    cost = f" (about {fmt.usd(tokens * price.input / 1_000_000)} at its input price)" if price else ""
    return (f"the conversation moves from {old[0]},{old[1]} to {new[0]},{new[1]}: its {fmt.tokens(tokens)}-token "
            f"context is not cached there, and the next request sends it in full{cost}")
