"""Freed memory is handed back only when the proxy is idle and served something since the last time."""

from __future__ import annotations

import asyncio

import pytest

from ccm_tui.proxy import memory


async def test_trims_once_per_burst_and_never_while_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: trims.append(pad) or 1)
    # (in flight, ended so far) as the trimmer sees it at each tick
    ticks = iter([(0, 0), (0, 0), (3, 0), (2, 1), (0, 3), (0, 3), (0, 3), (1, 4), (0, 5)])
    state = {"now": (0, 0)}

    def activity() -> tuple[int, int]:
        return state["now"]

    task = asyncio.create_task(memory.trim_when_idle(activity, every_s=0.001))
    seen = []
    try:
        for tick in ticks:
            state["now"] = tick
            before = len(trims)
            await asyncio.sleep(0.01)  # several ticks of the trimmer at this state
            seen.append(len(trims) - before)
    finally:
        task.cancel()
    # idle and nothing served: no trim; busy: none; idle after a burst: one; again idle: none
    assert seen == [0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert trims == [0, 0]


async def test_a_system_without_malloc_trim_returns_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    await asyncio.wait_for(memory.trim_when_idle(lambda: (0, 1), every_s=0.001), 1.0)
