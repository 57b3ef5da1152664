"""A response cache in front of any engine, keyed by (model, request hash): judge calls made once are free after.

The cache is an append-only JSONL file (one line per answered request, errors are never cached), safe against
`kill -9` like the run records: a torn last line is ignored. Used for judges, so that rescoring the same responses with
the same judge makes no judge calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.engine.base import Engine, Request, Response


def request_key(model: str, request: Request) -> str:
    body = {"model": model, "messages": request.messages, "params": request.params.model_dump(mode="json"),
            "seed": request.seed}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class CachedEngine:
    def __init__(self, inner: Engine, path: Path, model_id: str):
        self.inner = inner
        self.path = Path(path)
        self.model_id = model_id
        self.name = f"cached-{inner.name}"
        self.hits = 0
        self.misses = 0
        self._entries: dict[str, dict] = {}
        self._f = None
        self._started = False

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                self._entries[row["key"]] = row["response"]
            except (json.JSONDecodeError, KeyError):
                continue  # a torn line from an interrupted write: that request is simply asked again

    async def start(self, run_dir: Path) -> None:
        self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")
        self._run_dir = run_dir
        self._lock = asyncio.Lock()

    async def _ensure_inner(self) -> None:
        async with self._lock:  # the judge server is started once, and only when a request misses the cache
            if not self._started:
                await self.inner.start(self._run_dir)
                self._started = True

    async def generate(self, request: Request) -> Response:
        key = request_key(self.model_id, request)
        hit = self._entries.get(key)
        if hit is not None:
            self.hits += 1
            r = Response(**hit)
            r.extra = {**r.extra, "cached": True}
            return r
        self.misses += 1
        await self._ensure_inner()
        r = await self.inner.generate(request)
        if r.error is None:
            data = asdict(r)
            self._entries[key] = data
            assert self._f is not None
            self._f.write(json.dumps({"key": key, "model": self.model_id, "response": data}, ensure_ascii=False)
                          + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())
        return r

    async def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None
        if self._started:
            await self.inner.close()

    def identity(self) -> dict[str, Any]:
        """What the judge is (for scorer fingerprints), not where it is served or how it is cached."""
        return {"engine": self.inner.name, "model": self.model_id}

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "cache": str(self.path), "model": self.model_id, "inner": self.inner.describe(),
                "cache_hits": self.hits, "cache_misses": self.misses}
