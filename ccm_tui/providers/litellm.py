"""LiteLLM hybrid upstream: a LiteLLM proxy's Anthropic-compatible ``/v1/messages``, body unchanged.

Existing LiteLLM setups keep working while providers move in-process. Same wire format as
Anthropic, so everything but authentication and ``count_tokens`` is the passthrough's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..flow import Flow
from .anthropic import AnthropicProvider


class LiteLLMProvider(AnthropicProvider):
    def auth_headers(self) -> dict[str, str]:
        if not self.config.api_key:
            return {}  # a LiteLLM proxy without master_key accepts anything
        key = self.config.api_key.reveal()
        return {"authorization": f"Bearer {key}", "x-api-key": key}

    async def count_tokens(self, flow: Flow, body: dict[str, Any], headers: Mapping[str, str]) -> int:
        """Ask LiteLLM (it knows the real tokenizer); count locally if it cannot answer."""
        url = self.config.base_url + "/v1/messages/count_tokens"
        payload = {k: v for k, v in body.items() if k not in ("stream", "max_tokens")}
        why = "no usable input_tokens in its answer"
        try:
            response = await self.send(flow, url, payload, self.upstream_headers(headers, flow))
            count = (await self.read_json(response)).get("input_tokens")
        except Exception as exc:  # noqa: BLE001 - counting must answer; the local count is a fine estimate
            count, why = None, self.redactor.text(f"{type(exc).__name__}: {exc}")
        if isinstance(count, int) and count >= 0:
            return count
        flow.note(f"LiteLLM could not count tokens ({why}): counted locally")
        return await super().count_tokens(flow, body, headers)
