"""`lmeval:<task>` entries inside a harness run: planned with the native benchmarks, run against the same engine
after them, stored in the same run directory (generations and lm-eval's verdicts as score records, the entry in
manifest.json, the summary computed by harness.summary like any benchmark's). A finished entry is kept in
RUN/lmeval/<task>/entry.json, so re-running the command does not redo it; an interrupted one resumes from lm-eval's
request cache beside it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import GenerationParams, ModelSpec
from harness.lmeval.bridge import LmevalPlan, _safe, plan_lmeval, run_lmeval, store_result
from harness.store import atomic_write_json


@dataclass
class LmevalEntry:
    name: str  # lmeval:<task>
    plan: LmevalPlan
    generation: GenerationParams | None  # the run's explicit settings; None keeps the task's own

    def pending(self, out: Path) -> bool:
        return stored(out, self) is None

    def needs_engine(self, model: ModelSpec) -> bool:
        return model.engine != "hf"  # lm-eval loads its own copy of an hf model

    def manifest_entry(self, out: Path) -> dict[str, Any]:
        done = stored(out, self)
        return done["manifest"] if done else {"version": None, "task_sha256": None, "data": {}, "repeats": 1,
                                              "items": 1, "generation": {}, "module": "lmeval", "status": "planned"}

    async def run(self, model: ModelSpec, engine: Any, store: Any, out: Path) -> None:
        await run_entry(self, model, engine, store, out)


def plan_entry(name: str, override: Path | None, data_dirs: list[Path] | None, limit: int | None,
               generation: GenerationParams | None) -> LmevalEntry:
    return LmevalEntry(name, plan_lmeval(name, override, data_dirs, limit), generation)


def entry_path(out: Path, entry: LmevalEntry) -> Path:
    return Path(out) / "lmeval" / _safe(entry.plan.task) / "entry.json"


def stored(out: Path, entry: LmevalEntry) -> dict[str, Any] | None:
    p = entry_path(out, entry)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def base_url_for(model: ModelSpec, engine: Any) -> str | None:
    if model.engine == "vllm":
        return engine.base_url
    return model.base_url if model.engine == "openai" else None


async def run_entry(entry: LmevalEntry, model: ModelSpec, engine: Any, store: Any, out: Path) -> None:
    """Run one lm-eval task (in a worker thread: lm-eval's API models run their own event loop)."""
    res = await asyncio.to_thread(run_lmeval, entry.plan, model, base_url_for(model, engine), out, entry.generation)
    store_result(store, res)
    p = entry_path(out, entry)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(p, {"summary": res.summary, "manifest": res.manifest})


PLUGINS = {"lmeval:": plan_entry}
