"""Pure-function micro-benchmarks (no I/O): OpenAI chunks → Anthropic events, one core.

``translator``: parsed chunk dicts fed to ``OpenAIStreamTranslator`` only.
``pipeline``: what ``Provider.translate_stream`` does per chunk: SSE decode of the upstream bytes,
``json.loads``, translate, ``encode_event`` (and ``orjson`` in place of ``json`` when importable,
to show what a faster JSON library would buy).
``passthrough``: the Anthropic relay's read-along decode of the same number of events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fake_upstream import anthropic_events, openai_chunks, openai_events


def _rate(run: Callable[[], int], budget_s: float) -> float:
    """Best items/s over repeated runs within the time budget (at least one run, at most 50)."""
    best = 0.0
    deadline = time.perf_counter() + budget_s
    for _ in range(50):
        t0 = time.process_time()
        items = run()
        dt = time.process_time() - t0
        if dt > 0:
            best = max(best, items / dt)
        if time.perf_counter() > deadline:
            break
    return best


def translator_rate(n: int, budget_s: float) -> dict[str, Any]:
    try:
        from ccm_tui.providers.openai.stream import OpenAIStreamTranslator
    except ImportError as exc:
        return {"skipped": f"OpenAI translator not importable: {exc}"}
    from ccm_tui.sse import SSEDecoder, encode_event

    chunks = openai_chunks("bench", n)
    raw = b"".join(openai_events("bench", n))

    def only_translate() -> int:
        t = OpenAIStreamTranslator("bench")
        events = 0
        for chunk in chunks:
            events += len(t.feed(chunk))
        events += len(t.finish())
        return len(chunks)

    def pipeline(loads: Callable[[Any], Any] = json.loads) -> Callable[[], int]:
        def run() -> int:
            t = OpenAIStreamTranslator("bench")
            decoder = SSEDecoder()
            count = 0
            # 4 KiB reads, the shape of what arrives from a socket
            for i in range(0, len(raw), 4096):
                out = []
                for frame in decoder.feed(raw[i:i + 4096]):
                    if frame.data == "[DONE]":
                        continue
                    count += 1
                    for event_type, data in t.feed(loads(frame.data)):
                        out.append(encode_event(event_type, data))
            for event_type, data in t.finish():
                encode_event(event_type, data)
            return count
        return run

    result: dict[str, Any] = {
        "chunks": len(chunks),
        "translator_chunks_per_s": round(_rate(only_translate, budget_s)),
        "pipeline_chunks_per_s": round(_rate(pipeline(), budget_s)),
    }
    try:
        import orjson  # type: ignore[import-not-found]

        result["pipeline_orjson_loads_chunks_per_s"] = round(_rate(pipeline(orjson.loads), budget_s))
    except ImportError:
        result["pipeline_orjson_loads_chunks_per_s"] = None
    return result


def passthrough_rate(n: int, budget_s: float) -> dict[str, Any]:
    from ccm_tui.sse import SSEDecoder

    raw = b"".join(anthropic_events("bench", n))

    def run() -> int:
        decoder = SSEDecoder()
        count = 0
        for i in range(0, len(raw), 4096):
            count += len(decoder.feed(raw[i:i + 4096]))
        return count

    return {"events": n + 6, "decode_events_per_s": round(_rate(run, budget_s))}


def micro(n: int = 20_000, budget_s: float = 2.0) -> dict[str, Any]:
    return {"openai_translate": translator_rate(n, budget_s), "anthropic_decode": passthrough_rate(n, budget_s)}


if __name__ == "__main__":
    print(json.dumps(micro(), indent=2))
