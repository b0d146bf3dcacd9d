"""Child processes of the benchmark (fake upstream, ``ccm-tui serve``, peers) and /proc readings."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TOKEN = "ccm-bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    proc: subprocess.Popen
    base_url: str
    out_path: Path
    timings: dict[str, float] = field(default_factory=dict)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


def _wait_line(proc: subprocess.Popen, path: Path, prefix: str, timeout: float) -> str:
    """Poll the child's stdout file (1 ms steps) for the first line starting with ``prefix``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {path.read_text()[-2000:]}")
        time.sleep(0.001)
    raise RuntimeError(f"{proc.args!r} printed no {prefix!r} line within {timeout}s")


def _spawn(args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    out = workdir / f"{name}.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=ROOT, env=env or {**os.environ, "PYTHONUNBUFFERED": "1"})
    return proc, out


def start_fake(workdir: Path, uvloop: bool = False, name: str = "fake", reset_after: int = 0) -> Child:
    args = [sys.executable, str(BENCH / "fake_upstream.py")] + (["--uvloop"] if uvloop else [])
    args += ["--reset-after", str(reset_after)] if reset_after else []
    proc, out = _spawn(args, workdir, name)
    port = _wait_line(proc, out, "PORT=", 10.0).split("=", 1)[1]
    return Child(proc, f"http://127.0.0.1:{port}", out)


def start_floor(workdir: Path, upstream: str) -> Child:
    """bench/floor_app.py: Quart + Hypercorn + httpx relaying, nothing else."""
    proc, out = _spawn([sys.executable, str(BENCH / "floor_app.py"), upstream], workdir, "floor")
    port = _wait_line(proc, out, "PORT=", 20.0).split("=", 1)[1]
    return Child(proc, f"http://127.0.0.1:{port}", out)


def write_config(workdir: Path, upstream: str) -> Path:
    path = workdir / "ccm-bench.toml"
    path.write_text(f"""\
[server]
host = "127.0.0.1"
port = 0
auth_token = "{TOKEN}"

[providers.anthropic]
type = "anthropic"
base_url = "{upstream}"
api_key = "bench-upstream-key"
models = ["bench-c8"]

[providers.oai]
type = "openai"
preset = "openai"
base_url = "{upstream}/v1"
api_key = "bench-upstream-key"
models = ["bench-c8"]

[router]
default = "anthropic,bench-c8"
""")
    return path


def start_serve(workdir: Path, config: Path, name: str = "serve", timeout: float = 20.0,
                variant: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> Child:
    """Start ``python -m ccm_tui serve``; time the URL line and the first answered request.

    ``variant``: flags for bench/launch.py (``--uvloop``, ``--orjson``) to try a speed-up.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_STATE_HOME": str(workdir / "state"),
           "XDG_CONFIG_HOME": str(workdir / "config")}
    t0 = time.perf_counter()
    launcher = [str(BENCH / "launch.py"), *variant] if variant else ["-m", "ccm_tui"]
    proc, out = _spawn([sys.executable, *launcher, "serve", "--config", str(config), "--port", "0", *extra],
                       workdir, name, env)
    line = _wait_line(proc, out, "ANTHROPIC_BASE_URL=", timeout)
    t_line = time.perf_counter() - t0
    base = line.split()[0].split("=", 1)[1]
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            try:
                if client.get(base + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() > deadline or proc.poll() is not None:
                raise RuntimeError(f"serve never answered: {out.read_text()[-2000:]}")
            time.sleep(0.001)
    t_ready = time.perf_counter() - t0
    return Child(proc, base, out, {"url_line_s": t_line, "first_request_s": t_ready})


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ccm-bench-"))


def rss(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) in MB."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        pass
    return values


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """user + system CPU time the process (or one of its threads) has used so far."""
    where = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(where).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def child_rss(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM in MB of ``pid``'s child processes together (serve's history writer)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return {}
    each = [rss(int(k)) for k in kids]
    return {key: round(sum(r.get(key, 0.0) for r in each), 1) for key in ("VmRSS", "VmHWM")} if each else {}


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants still running (workers, a peer's child processes)."""
    total = cpu_seconds(pid)
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return total + sum(tree_cpu_seconds(int(k)) for k in kids)
