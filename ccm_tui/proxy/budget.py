"""Spend per session: a price table, the cost of each flow, and the ``[budget]`` cap.

One proxy is one session, so the running totals live on :class:`ProxyState`
(``spent_usd``/``spent_tokens``). ``[prices]`` in the config wins over the built-in table;
a model in neither costs 0 (and its flow says so), while ``max_tokens`` still counts it.
"""

from __future__ import annotations

from ..config import Config, Price
from ..errors import BudgetExceeded
from ..flow import Flow, Usage
from .state import ProxyState

CACHE_READ_FACTOR = 0.1  # cached input is billed at a tenth of input (Anthropic, OpenAI, Gemini roughly)
CACHE_WRITE_FACTOR = 1.25  # Anthropic's 5-minute cache write surcharge

#: USD per million tokens (input, output); public list prices, matched by longest name prefix.
BUILTIN_PRICES: dict[str, Price] = {
    name: Price(i, o)
    for name, (i, o) in {
        "claude-opus-4-5": (5.0, 25.0), "claude-opus-4-6": (5.0, 25.0), "claude-opus-4": (15.0, 75.0),
        "claude-3-opus": (15.0, 75.0), "claude-sonnet-4": (3.0, 15.0), "claude-3-7-sonnet": (3.0, 15.0),
        "claude-3-5-sonnet": (3.0, 15.0), "claude-haiku-4-5": (1.0, 5.0), "claude-3-5-haiku": (0.8, 4.0),
        "claude-3-haiku": (0.25, 1.25),
        "gpt-5": (1.25, 10.0), "gpt-5-mini": (0.25, 2.0), "gpt-5-nano": (0.05, 0.4),
        "gpt-4.1": (2.0, 8.0), "gpt-4.1-mini": (0.4, 1.6), "gpt-4.1-nano": (0.1, 0.4),
        "gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "o3": (2.0, 8.0), "o3-mini": (1.1, 4.4),
        "o4-mini": (1.1, 4.4),
        "gemini-2.5-pro": (1.25, 10.0), "gemini-2.5-flash": (0.3, 2.5), "gemini-2.5-flash-lite": (0.1, 0.4),
        "gemini-2.0-flash": (0.1, 0.4),
        "deepseek-chat": (0.27, 1.1), "deepseek-reasoner": (0.55, 2.19),
    }.items()
}


def _norm(name: str) -> str:
    """``openrouter/anthropic/claude-sonnet-4.5`` → ``claude-sonnet-4-5``."""
    return name.rsplit("/", 1)[-1].strip().lower().replace(".", "-")


def _lookup(table: dict[str, Price], model: str) -> Price | None:
    name = _norm(model)
    best: tuple[int, Price] | None = None
    for key, price in table.items():
        k = _norm(key)
        if name == k or (name.startswith(k) and not name[len(k)].isalnum()):
            if best is None or len(k) > best[0]:
                best = (len(k), price)
    return best[1] if best else None


def price_for(config: Config, provider: str, model: str) -> Price | None:
    exact = config.prices.get(f"{provider},{model}") or config.prices.get(model)
    return exact or _lookup(config.prices, model) or _lookup(BUILTIN_PRICES, model)


def cost_usd(price: Price, usage: Usage) -> float:
    units = (usage.input_tokens * price.input + usage.output_tokens * price.output
             + usage.cache_read_input_tokens * price.input * CACHE_READ_FACTOR
             + usage.cache_creation_input_tokens * price.input * CACHE_WRITE_FACTOR)
    return units / 1_000_000


def total_tokens(usage: Usage) -> int:
    return (usage.input_tokens + usage.output_tokens + usage.cache_read_input_tokens
            + usage.cache_creation_input_tokens)


def charge(state: ProxyState, flow: Flow) -> None:
    """Fill ``flow.cost_usd`` and add the flow to the session's spend (call once per flow, at its end)."""
    if flow.kind != "messages" or flow.decision is None:
        flow.cost_usd = 0.0  # count_tokens and refused requests cost nothing
        return
    price = price_for(state.config, flow.decision.provider, flow.decision.model)
    if price is None:
        flow.cost_usd = 0.0
        if total_tokens(flow.usage):
            flow.note(f"no price for {flow.decision.model!r}: counted as $0 (add it under [prices])")
    else:
        flow.cost_usd = round(cost_usd(price, flow.usage), 8)
    state.spent_usd += flow.cost_usd
    state.spent_tokens += total_tokens(flow.usage)


def _usd(value: float) -> str:
    return "$" + (f"{value:.2f}" if value >= 1 else f"{value:.6f}".rstrip("0").rstrip("."))


def check(state: ProxyState) -> None:
    """Refuse a new request once the session has spent its cap; the message says which cap."""
    config = state.config
    if config.budget_usd is not None and state.spent_usd >= config.budget_usd:
        raise BudgetExceeded(
            f"ccm-tui budget exceeded: this session spent ${state.spent_usd:.4f} of its "
            f"{_usd(config.budget_usd)} cap ([budget] max_usd); raise the cap or start a new session"
        )
    if config.budget_tokens is not None and state.spent_tokens >= config.budget_tokens:
        raise BudgetExceeded(
            f"ccm-tui budget exceeded: this session used {state.spent_tokens} tokens of its "
            f"{config.budget_tokens} cap ([budget] max_tokens); raise the cap or start a new session"
        )


def spend_text(state: ProxyState) -> str:
    """``$0.1234 / $5.00`` (or without a cap): for status bars."""
    text = f"${state.spent_usd:.4f}"
    if state.config.budget_usd is not None:
        text += f" / {_usd(state.config.budget_usd)}"
    if state.config.budget_tokens is not None:
        text += f" · {state.spent_tokens} / {state.config.budget_tokens} tok"
    return text

