"""The one interface every engine implements. Engines know requests and responses, nothing about benchmarks."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.config import GenerationParams


@dataclass
class Request:
    messages: list[dict[str, Any]]
    params: GenerationParams
    seed: int | None = None
    # opaque identity of the work item (benchmark, sample_id, repeat); used by the replay engine only
    key: tuple[str, str, int] | None = None


@dataclass
class Response:
    text: str  # the answer, reasoning removed
    reasoning: str | None = None
    finish_reason: str | None = None  # "stop" | "length" | ... as the server reported it
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    error: str | None = None  # set when the request failed after retries; text is then ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class Engine(Protocol):
    name: str

    async def start(self, run_dir: Path) -> None: ...

    async def generate(self, request: Request) -> Response: ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """Engine identity and arguments for the manifest (no secrets)."""
        ...


def messages_sha256(messages: list[dict[str, Any]]) -> str:
    """sha256 of a message list (JSON, sorted keys): the prompt's identity in records, caches and counts."""
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def split_reasoning(content: str, reasoning: str | None = None) -> tuple[str, str | None]:
    """Separate reasoning from the answer.

    A server-side reasoning parser gives `reasoning` separately; otherwise `<think>…</think>` blocks are cut out of
    `content`. The answer is not stripped, except for the whitespace right after a removed reasoning block. An opened but unclosed `<think>` (output truncated mid-thought) means everything after it is
    reasoning and there is no answer. A closing `</think>` with no opening one (templates that put `<think>` in the
    prompt) means everything before it is reasoning.
    """
    content = content or ""
    parts: list[str] = [reasoning] if reasoning else []
    found = _THINK.findall(content)
    if found:
        parts.extend(s.strip() for s in found)
        content = _THINK.sub("", content)
    if "<think>" in content:
        before, _, after = content.partition("<think>")
        parts.append(after.strip())
        content = before
    elif "</think>" in content:
        before, _, after = content.partition("</think>")
        parts.append(before.strip())
        content = after
    joined = "\n".join(p for p in parts if p)
    # the answer keeps its own whitespace (instruction-following checkers are whitespace-sensitive); only the
    # blank lines a template leaves between the reasoning block and the answer are dropped
    return (content.lstrip() if joined else content), (joined or None)
