"""Any OpenAI-compatible endpoint (a remote vLLM, SGLang, a hosted API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from harness.config import ModelSpec
from harness.engine.base import Request, Response
from harness.engine.batch import concurrency_fields, concurrency_for
from harness.engine.client import ChatClient, api_key_from_env
from harness.errors import ConfigError


class OpenAIEngine:
    name = "openai"

    def __init__(self, spec: ModelSpec):
        if not spec.base_url:
            raise ConfigError("the openai engine needs --base-url (e.g. http://host:8000/v1)")
        self.spec = spec
        self.client: ChatClient | None = None
        self.max_context: int | None = None

    async def start(self, run_dir: Path) -> None:
        await self.connect(self.spec.base_url)
        await self.client.check_reachable()

    async def connect(self, base_url: str, alive: Callable[[], None] | None = None) -> None:
        """The client for a served model, and its maximum context (the spec's, or what /models reports)."""
        s = self.spec
        self.client = ChatClient(
            base_url,
            s.served_model_name or s.model,
            api_key=api_key_from_env(s.api_key_env),
            concurrency=concurrency_for(s)[0],
            timeout=s.request_timeout,
            max_retries=s.max_retries,
            alive=alive,
            stream=s.stream,
        )
        self.max_context = s.max_model_len or (await self.client.model_info()).get("max_model_len")

    async def generate(self, request: Request) -> Response:
        assert self.client is not None, "engine not started"
        return await self.client.generate(request)

    async def count_tokens(self, messages: list[dict]) -> int | None:
        assert self.client is not None, "engine not started"
        return await self.client.count_tokens(messages)

    async def close(self) -> None:
        if self.client:
            await self.client.close()

    def describe(self) -> dict[str, Any]:
        s = self.spec
        return {
            "engine": self.name,
            "base_url": s.base_url,
            "model": s.served_model_name or s.model,
            "api_key_env": s.api_key_env,
            **concurrency_fields(s),
            "request_timeout": s.request_timeout,
            "max_retries": s.max_retries,
            "stream": s.stream,
        }
