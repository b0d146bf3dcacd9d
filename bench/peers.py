"""Optional peers, benchmarked against the same fake upstream when installed (never installed here).

* LiteLLM proxy (``litellm`` on PATH): its Anthropic ``/v1/messages`` endpoint, a wildcard
  ``anthropic/*`` model pointing at the fake upstream.
* claude-code-router (``ccr`` on PATH): Anthropic in, OpenAI Chat Completions out to the fake,
  i.e. the same work as ccm-tui's translated path. It reads ``~/.claude-code-router/config.json``,
  so it runs with ``HOME`` set to the benchmark's scratch directory.

Both are started best-effort with a time limit; a failure is reported, never fatal.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
from measure import Target
from procs import Child


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(child: Child, probe: str, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if child.proc.poll() is not None:
                raise RuntimeError(f"exited {child.proc.returncode}: {child.out_path.read_text()[-500:]}")
            try:
                client.get(child.base_url + probe)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
    raise RuntimeError(f"no answer within {timeout}s")


def detect() -> dict[str, str | None]:
    """Peer name → executable path, or None when not installed."""
    return {"litellm": shutil.which("litellm"), "ccr": shutil.which("ccr")}


def _spawn(args: list[str], workdir: Path, name: str, env: dict[str, str], port: int) -> Child:
    out = workdir / f"{name}.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=workdir, env=env)
    return Child(proc, f"http://127.0.0.1:{port}", out)


def start_litellm(exe: str, workdir: Path, upstream: str, timeout: float = 60.0) -> tuple[Child, Target]:
    port = _free_port()
    cfg = workdir / "litellm.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - model_name: \"anthropic/*\"\n"
        "    litellm_params:\n"
        "      model: \"anthropic/*\"\n"
        f"      api_base: \"{upstream}\"\n"
        "      api_key: \"bench-upstream-key\"\n"
    )
    env = {**os.environ, "LITELLM_LOG": "ERROR"}
    t0 = time.perf_counter()
    child = _spawn([exe, "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)], workdir,
                   "litellm", env, port)
    _wait_http(child, "/health/liveliness", timeout)
    child.timings["first_request_s"] = time.perf_counter() - t0
    headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
    return child, Target("litellm", child.base_url, headers, "anthropic/")


def start_ccr(exe: str, workdir: Path, upstream: str, timeout: float = 60.0) -> tuple[Child, Target]:
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
    _wait_http(child, "/", timeout)
    child.timings["first_request_s"] = time.perf_counter() - t0
    return child, Target("ccr", child.base_url, {"x-api-key": "none", "anthropic-version": "2023-06-01"}, "fake,")


STARTERS = {"litellm": start_litellm, "ccr": start_ccr}
