"""Optional peers, benchmarked against the same fake upstream when installed (never by CI).

* LiteLLM proxy (``litellm`` on PATH, ``pip install 'litellm[proxy]'``): its Anthropic
  ``/v1/messages`` endpoint with two wildcard models pointing at the fake upstream:
  ``anthropic/*`` (passthrough, target ``litellm``) and ``openai/*`` (Anthropic in, OpenAI Chat
  Completions out, target ``litellm_openai``). It refuses to start without a master key, sends
  ``openai/*`` models to the Responses API unless told to use Chat Completions, and ends a stream
  of 100 identical chunks with an error unless told otherwise; it runs offline.
* claude-code-router (``ccr`` on PATH, ``npm install @musistudio/claude-code-router``): Anthropic
  in, OpenAI Chat Completions out to the fake, i.e. the same work as ccm-tui's translated path. It
  reads ``~/.claude-code-router/config.json``, so it runs with ``HOME`` set to the benchmark's
  scratch directory.

Both are started best-effort with a time limit; a failure is reported, never fatal.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from measure import Target, probe
from procs import Child

NAMES = ("litellm", "ccr")
# ccm-tui's target doing the same work as each peer target: the ratio ccm-tui / peer compares these
SAME_WORK = {"litellm": "ccm", "litellm_openai": "ccm_openai", "ccr": "ccm_openai"}
HDR = {"anthropic-version": "2023-06-01"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(child: Child, path: str, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if child.proc.poll() is not None:
                raise RuntimeError(f"exited {child.proc.returncode}: {child.out_path.read_text()[-500:]}")
            try:
                client.get(child.base_url + path)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
    raise RuntimeError(f"no answer within {timeout}s")


def detect() -> dict[str, str | None]:
    """Peer name → executable path, or None when not installed."""
    return {name: shutil.which(name) for name in NAMES}


def _spawn(args: list[str], workdir: Path, name: str, env: dict[str, str], port: int) -> Child:
    out = workdir / f"{name}.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=workdir, env=env)
    return Child(proc, f"http://127.0.0.1:{port}", out)


def start_litellm(exe: str, workdir: Path, upstream: str, timeout: float = 90.0) -> tuple[Child, list[Target]]:
    port = _free_port()
    key = "sk-bench-" + secrets.token_hex(16)
    cfg = workdir / "litellm.yaml"
    # prices for the made-up models: without them LiteLLM logs a traceback per request (cost lookup fails)
    models = "".join(
        f"  - model_name: \"{kind}/*\"\n"
        "    litellm_params:\n"
        f"      model: \"{kind}/*\"\n"
        f"      api_base: \"{base}\"\n"
        "      api_key: \"bench-upstream-key\"\n"
        "    model_info:\n"
        "      input_cost_per_token: 0.000001\n"
        "      output_cost_per_token: 0.000002\n"
        for kind, base in (("anthropic", upstream), ("openai", f"{upstream}/v1")))
    cfg.write_text(f"model_list:\n{models}general_settings:\n  master_key: \"{key}\"\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LITELLM_MASTER_KEY")}
    # the fake's deltas are all alike: LiteLLM's guard against a model repeating itself (100 identical
    # chunks, then an error mid-stream) would cut its translated long stream short
    env.update({"LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
                "REPEATED_STREAMING_CHUNK_LIMIT": str(10**9)})
    t0 = time.perf_counter()
    child = _spawn([exe, "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)], workdir,
                   "litellm", env, port)
    headers = {**HDR, "x-api-key": key}
    targets = [Target("litellm", child.base_url, headers, "anthropic/"),
               Target("litellm_openai", child.base_url, headers, "openai/")]
    _ready(child, targets, "/health/liveliness", timeout, t0)
    return child, targets


def start_ccr(exe: str, workdir: Path, upstream: str, timeout: float = 60.0) -> tuple[Child, list[Target]]:
    port = _free_port()
    home = workdir / "ccr-home"
    (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
    (home / ".claude-code-router" / "config.json").write_text(json.dumps({
        "HOST": "127.0.0.1", "PORT": port, "LOG": False,
        "Providers": [{"name": "fake", "api_base_url": f"{upstream}/v1/chat/completions",
                       "api_key": "bench-upstream-key", "models": ["bench-c8"]}],
        "Router": {"default": "fake,bench-c8"},
    }))
    env = {**os.environ, "HOME": str(home)}
    t0 = time.perf_counter()
    child = _spawn([exe, "start"], workdir, "ccr", env, port)
    targets = [Target("ccr", child.base_url, {**HDR, "x-api-key": "none"}, "fake,")]
    _ready(child, targets, "/", timeout, t0)
    return child, targets


def _ready(child: Child, targets: list[Target], path: str, timeout: float, t0: float) -> None:
    try:
        _wait_http(child, path, timeout)
        for target in targets:  # a peer that does not answer a plain request is not measured
            if why := probe(target):
                raise RuntimeError(f"{target.name}: {why}")
    except Exception:
        child.stop()
        raise
    child.timings["first_request_s"] = time.perf_counter() - t0


STARTERS: dict[str, Callable[[str, Path, str], tuple[Child, list[Target]]]] = {
    "litellm": start_litellm, "ccr": start_ccr}


def start(names: Iterable[str], workdir: Path, upstream: str
          ) -> tuple[list[Child], list[tuple[Target, int]], dict[str, Any]]:
    """Start the named peers that are installed: their processes, (target, pid) pairs, and per peer
    ``{"startup_s": ...}`` or a note ("not installed", "failed to start: ...")."""
    children: list[Child] = []
    targets: list[tuple[Target, int]] = []
    status: dict[str, Any] = {}
    found = detect()
    for name in names:
        exe = found.get(name)
        if exe is None:
            status[name] = "not installed"
            continue
        try:
            child, started = STARTERS[name](exe, workdir, upstream)
        except Exception as exc:  # noqa: BLE001 - a peer that fails to start is reported, not fatal
            status[name] = f"failed to start: {exc}"
            continue
        children.append(child)
        targets += [(t, child.proc.pid) for t in started]
        status[name] = {"startup_s": round(child.timings["first_request_s"], 3), "targets": [t.name for t in started]}
    return children, targets, status
