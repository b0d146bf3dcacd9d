"""Spend per session: a price table, the cost of each flow, and the ``[budget]`` cap.

The proxy runs this as a hook around each request, before any view hears of it: :func:`admit`
refuses a request the cap cannot afford and reserves an estimate of its cost; :func:`charge`
fills ``flow.cost_usd`` and settles the reservation against what the flow really used. Spend
lives on the proxy's :class:`Ledger` (one proxy is one session); views add up ``flow.cost_usd``.

Concurrency: a request is admitted when nothing is in flight and the cap is not yet reached (the
first request under an untouched cap is always served), or when the spend, the reservations of
the requests in flight and its own estimate fit under the cap. So concurrent requests exceed a
cap by at most one request (plus what estimates miss). The estimate is the counted input and a
realistic output: the session's typical (median) output so far, at most the request's
``max_tokens``, at the model's prices.

``[prices]`` in the config wins over the built-in table; a model in neither costs 0 (and its flow
says so), while ``max_tokens`` still counts it.
"""

from __future__ import annotations

import functools
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, Price
from ..errors import BudgetExceeded
from ..flow import Flow, Usage
from ..limits import limits_for, output_reserve
from ..router import Counter

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


@functools.lru_cache(maxsize=4096)  # every request compares its model with every priced name
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


DEFAULT_TYPICAL_OUTPUT = 1024  # output tokens assumed before the session has finished a request
OUTPUT_SAMPLES = 64  # recent outputs the typical output is the median of


@dataclass(slots=True)
class Ledger:
    """The session's spend and the estimates reserved for requests in flight (proxy loop only)."""

    spent_usd: float = 0.0
    spent_tokens: int = 0
    reserved: dict[int, tuple[float, int]] = field(default_factory=dict)  # flow id → (USD, tokens)
    outputs: deque[int] = field(default_factory=lambda: deque(maxlen=OUTPUT_SAMPLES))

    def typical_output(self) -> int:
        return int(statistics.median(self.outputs)) if self.outputs else DEFAULT_TYPICAL_OUTPUT

    def reserved_total(self) -> tuple[float, int]:
        return sum(usd for usd, _ in self.reserved.values()), sum(tok for _, tok in self.reserved.values())


def estimate(ledger: Ledger, config: Config, flow: Flow, body: dict[str, Any],
             count: Counter | None = None) -> tuple[float, int]:
    """(USD, tokens) a routed request will likely cost: counted input plus a typical output."""
    decision = flow.decision
    assert decision is not None
    input_tokens = decision.estimated_tokens
    if input_tokens is None:
        if count is None:
            from ..tokens import count_request_tokens as count
        input_tokens = count(body, model=decision.model)
    most = output_reserve(body, limits_for(config, decision.provider, decision.model))
    output = min(ledger.typical_output(), most) if most else ledger.typical_output()
    price = price_for(config, decision.provider, decision.model)
    usd = cost_usd(price, Usage(input_tokens=input_tokens, output_tokens=output)) if price else 0.0
    return usd, input_tokens + output


def admit(ledger: Ledger, config: Config, flow: Flow, body: dict[str, Any], count: Counter | None = None) -> None:
    """Refuse a request the cap cannot afford (the message says which cap), else reserve its estimate."""
    if config.budget_usd is None and config.budget_tokens is None:
        return
    usd, tokens = estimate(ledger, config, flow, body, count)
    held_usd, held_tokens = ledger.reserved_total()
    in_flight = len(ledger.reserved)
    if config.budget_usd is not None:
        over = ledger.spent_usd >= config.budget_usd
        if over or (in_flight and ledger.spent_usd + held_usd + usd > config.budget_usd):
            raise BudgetExceeded(
                f"ccm-tui budget exceeded: this session spent ${ledger.spent_usd:.4f} of its "
                f"{_usd(config.budget_usd)} cap ([budget] max_usd)"
                + ("" if over else f" and {in_flight} request(s) in flight hold ${held_usd:.4f}")
                + "; raise the cap or start a new session"
            )
    if config.budget_tokens is not None:
        over = ledger.spent_tokens >= config.budget_tokens
        if over or (in_flight and ledger.spent_tokens + held_tokens + tokens > config.budget_tokens):
            raise BudgetExceeded(
                f"ccm-tui budget exceeded: this session used {ledger.spent_tokens} tokens of its "
                f"{config.budget_tokens} cap ([budget] max_tokens)"
                + ("" if over else f" and {in_flight} request(s) in flight hold {held_tokens}")
                + "; raise the cap or start a new session"
            )
    ledger.reserved[flow.id] = (usd, tokens)


def charge(ledger: Ledger, config: Config, flow: Flow) -> None:
    """Fill ``flow.cost_usd``, settle its reservation and add it to the spend (once per flow, at its end)."""
    ledger.reserved.pop(flow.id, None)
    if flow.kind != "messages" or flow.decision is None:
        flow.cost_usd = 0.0  # count_tokens and refused requests cost nothing
        return
    price = price_for(config, flow.decision.provider, flow.decision.model)
    if price is None:
        flow.cost_usd = 0.0
        if total_tokens(flow.usage):
            flow.note(f"no price for {flow.decision.model!r}: counted as $0 (add it under [prices])")
    else:
        flow.cost_usd = round(cost_usd(price, flow.usage), 8)
    ledger.spent_usd += flow.cost_usd
    ledger.spent_tokens += total_tokens(flow.usage)
    if flow.state == "done" and flow.usage.output_tokens:
        ledger.outputs.append(flow.usage.output_tokens)


def _usd(value: float) -> str:
    return "$" + (f"{value:.2f}" if value >= 1 else f"{value:.6f}".rstrip("0").rstrip("."))


def spend_text(spent_usd: float, spent_tokens: int, config: Config) -> str:
    """``$0.1234 / $5.00`` (or without a cap): for status bars."""
    text = f"${spent_usd:.4f}"
    if config.budget_usd is not None:
        text += f" / {_usd(config.budget_usd)}"
    if config.budget_tokens is not None:
        text += f" · {spent_tokens} / {config.budget_tokens} tok"
    return text


def spend_share(spent_usd: float, spent_tokens: int, config: Config) -> float:
    """How much of the tighter cap is used (0 without caps)."""
    used = [spent / cap for spent, cap in ((spent_usd, config.budget_usd), (spent_tokens, config.budget_tokens))
            if cap]
    return max(used, default=0.0)
