#!/usr/bin/env python3
"""A stand-in for the claude CLI (``--claude-bin``): talks to $ANTHROPIC_BASE_URL with $ANTHROPIC_AUTH_TOKEN.

``fake_claude.py [--model M] [--requests N] [--exit CODE] [--interactive]`` sends N requests (streamed),
printing what came back, then (with --interactive) sends one request per line typed on stdin until
``exit``/EOF. ``--dump-env FILE`` first writes its environment and signal masks there (JSON).
Standard library only, so it runs under any Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def ask(prompt: str, model: str, stream: bool = True) -> str:
    body = {"model": model, "max_tokens": 256, "stream": stream,
            "messages": [{"role": "user", "content": prompt}],
            "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]}
    request = urllib.request.Request(
        os.environ["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages", data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01",
                 "authorization": "Bearer " + os.environ.get("ANTHROPIC_AUTH_TOKEN", "")})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            if not stream:
                data = json.load(response)
                return "".join(b.get("text", "") for b in data.get("content", []))
            text = []
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("type") == "content_block_delta":
                        text.append(event["delta"].get("text", ""))
            return "".join(text)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')}"


def dump_env(path: str) -> None:
    """``{"env": {...}, "SigIgn": int, "SigBlk": int}``: what this process inherited."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    masks = {name: int(fields[name].strip(), 16) for name in ("SigIgn", "SigBlk")}
    with open(path + ".tmp", "w") as out:
        json.dump({"env": dict(os.environ), **masks}, out)
    os.replace(path + ".tmp", path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="claude-sonnet-4-5")
    parser.add_argument("--requests", type=int, default=1)
    parser.add_argument("--exit", type=int, default=0, dest="code")
    parser.add_argument("--interactive", action="store_true")
    parser.add_argument("--dump-env", metavar="FILE")
    args, _ = parser.parse_known_args()
    if args.dump_env:
        dump_env(args.dump_env)
    print(f"fake-claude ready, proxy {os.environ.get('ANTHROPIC_BASE_URL')}", flush=True)
    for i in range(args.requests):
        print(f"answer {i + 1}: {ask(f'question {i + 1}', args.model)}", flush=True)
    if args.interactive:
        while True:
            print("> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line or line.strip() == "exit":
                break
            print(f"you typed: {line.strip()}", flush=True)
            print(f"answer: {ask(line.strip(), args.model)}", flush=True)
    print(f"fake-claude exiting with {args.code}", flush=True)
    return args.code


if __name__ == "__main__":
    sys.exit(main())
