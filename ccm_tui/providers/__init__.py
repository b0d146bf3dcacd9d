"""Provider types, one module each, imported when a config names them."""

from __future__ import annotations

import importlib

from ..config import DEFAULT_MAX_RESPONSE_BYTES, ProviderConfig
from .base import Provider, UpstreamResponse

__all__ = ["Provider", "UpstreamResponse", "build_provider", "PROVIDER_CLASSES"]

PROVIDER_CLASSES = {
    "anthropic": "ccm_tui.providers.anthropic:AnthropicProvider",
    "openai": "ccm_tui.providers.openai:OpenAIProvider",
    "gemini": "ccm_tui.providers.gemini:GeminiProvider",
    "litellm": "ccm_tui.providers.litellm:LiteLLMProvider",
}


def build_provider(config: ProviderConfig, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> Provider:
    module_name, _, class_name = PROVIDER_CLASSES[config.type].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(config, max_response_bytes=max_response_bytes)
