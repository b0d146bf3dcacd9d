"""Hostile upstreams against a real ``ccm-tui serve``: its RSS and its /health latency while it reads them.

    python bench/hostile.py            # 1 GiB JSON, 1 MiB gzip bomb (JSON and SSE), a huge error body

The upstream is a raw asyncio server in this process (it writes only as fast as the proxy reads);
``serve`` runs as a child, so its RSS (``/proc/PID/status``) is the proxy's alone. For each case:
peak RSS growth while the request runs, RSS growth left 1 s after, the client's status and time,
and /health latency (median, p99 and worst of probes every 20 ms while the request runs; the baseline
case shows what the machine itself adds).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30
OPENAI_CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'


def bomb(block: bytes, total: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    big = block * max(1, (1 << 20) // len(block))
    return b"".join(packer.compress(big) for _ in range(total // len(big))) + packer.flush()


CASES: dict[str, tuple[int, dict[str, str], object]] = {}  # model → (status, headers, body: bytes | int)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        request = json.loads(await reader.readexactly(length))
        model = request["model"]
        status, headers, body = CASES[model]
        lines = [f"HTTP/1.1 {status} X", "connection: close", *[f"{k}: {v}" for k, v in headers.items()]]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        if isinstance(body, int):  # that many bytes of a JSON string, written as the reader takes them
            writer.write(b'{"pad":"')
            piece = b"x" * (1 << 20)
            for _ in range(body >> 20):
                writer.write(piece)
                await writer.drain()
        else:
            for i in range(0, len(body), 1 << 16):  # type: ignore[arg-type]
                writer.write(body[i:i + (1 << 16)])  # type: ignore[index]
                await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def run_case(base: str, pid: int, model: str, stream: bool) -> dict[str, object]:
    rss0, peak, done, probes = rss_mb(pid), [0.0], threading.Event(), []

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid) - rss0)
            time.sleep(0.005)

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                t0 = time.perf_counter()
                client.get(base + "/health")
                probes.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.02)

    threads = [threading.Thread(target=sample), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # probes alone first: what /health costs on this machine right now
    t0 = time.perf_counter()
    body = {"model": model, "max_tokens": 10, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=600) as client:
        response = client.post(base + "/v1/messages", json=body, headers={"x-api-key": "bench-token"})
    elapsed = time.perf_counter() - t0
    done.set()
    for t in threads:
        t.join()
    time.sleep(1)
    tail = response.text[-160:].replace("\n", " ")
    return {"case": model, "status": response.status_code, "seconds": round(elapsed, 2),
            "rss_peak_growth_mb": round(peak[0]), "rss_left_mb": round(rss_mb(pid) - rss0),
            "health_probes": len(probes), "health_p50_ms": round(statistics.median(probes), 1) if probes else None,
            "health_p99_ms": round(statistics.quantiles(probes, n=100)[98], 1) if len(probes) > 1 else None,
            "health_max_ms": round(max(probes), 1) if probes else None, "answer_tail": tail}


async def main() -> None:
    CASES["baseline"] = (200, {"content-type": "application/json"}, json.dumps(
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
         "usage": {"input_tokens": 1, "output_tokens": 1}}).encode())
    CASES["json-1gib"] = (200, {"content-type": "application/json"}, GIB)
    CASES["gzip-bomb-json"] = (200, {"content-type": "application/json", "content-encoding": "gzip"},
                               bomb(b" ", GIB))
    CASES["error-1gib"] = (500, {"content-type": "text/plain"}, GIB)
    CASES["gzip-bomb-sse"] = (200, {"content-type": "text/event-stream", "content-encoding": "gzip"},
                              bomb(OPENAI_CHUNK, GIB))
    print(f"gzip bombs: {len(CASES['gzip-bomb-json'][2]) >> 10} KiB (JSON), "  # type: ignore[arg-type]
          f"{len(CASES['gzip-bomb-sse'][2]) >> 10} KiB (SSE), 1 GiB each decoded", flush=True)
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f'[server]\nauth_token = "bench-token"\n[providers.a]\ntype = "anthropic"\n'
                          f'base_url = "{url}"\napi_key = "k"\n[providers.o]\ntype = "openai"\n'
                          f'base_url = "{url}"\napi_key = "k"\n[router]\ndefault = "a,json-1gib"\n')
        env = {**os.environ, "CCM_LOG_FILE": str(Path(tmp) / "log"), "XDG_STATE_HOME": str(Path(tmp) / "state"),
               "XDG_CONFIG_HOME": str(Path(tmp) / "config")}  # history and logs stay in the temp folder
        serve = subprocess.Popen([sys.executable, "-m", "ccm_tui", "serve", "--config", str(config), "--port", "0"],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        try:
            line = serve.stdout.readline()  # type: ignore[union-attr]
            base = re.search(r"ANTHROPIC_BASE_URL=(\S+)", line).group(1)  # type: ignore[union-attr]
            for model, stream in (("a,baseline", False), ("a,json-1gib", False), ("a,gzip-bomb-json", False), ("a,error-1gib", False),
                                  ("o,gzip-bomb-sse", True)):
                result = await asyncio.to_thread(run_case, base, serve.pid, model, stream)
                print(json.dumps(result), flush=True)
        finally:
            serve.terminate()
            serve.wait(10)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
