"""`lmms:<task>` entries inside a harness run, as `lmeval:<task>` ones (harness/lmeval/run.py): planned with the
native benchmarks, run against the same server after them, stored in the same run directory (generations and
lmms-eval's verdicts as records, the manifest entry, the summary computed by harness.summary). A finished entry is
kept in RUN/lmms/<task>/entry.json so re-running the command does not redo it; an entry with failed requests is
kept as incomplete, and the next run asks again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import GenerationParams, ModelSpec
from harness.lmeval.run import base_url_for
from harness.lmms.bridge import LmmsPlan, cache_dir, plan_lmms, run_lmms, store_result
from harness.store import atomic_write_json


@dataclass
class LmmsEntry:
    name: str  # lmms:<task>
    plan: LmmsPlan
    generation: GenerationParams | None  # the run's explicit settings; None keeps the task's own

    def pending(self, out: Path) -> bool:
        done = stored(out, self)
        return done is None or not done.get("complete")

    def needs_engine(self, model: ModelSpec) -> bool:
        return True

    def manifest_entry(self, out: Path) -> dict[str, Any]:
        done = stored(out, self)
        return done["manifest"] if done else {"version": None, "task_sha256": None, "data": {}, "repeats": 1,
                                              "items": 1, "generation": {}, "module": "lmms", "status": "planned"}

    async def run(self, model: ModelSpec, engine: Any, store: Any, out: Path) -> None:
        res = await asyncio.to_thread(run_lmms, self.plan, model, base_url_for(model, engine), out, self.generation)
        store_result(store, res)
        atomic_write_json(entry_path(out, self), {"summary": res.summary, "manifest": res.manifest,
                                                  "complete": not res.failed})


def plan_entry(name: str, override: Path | None, data_dirs: list[Path] | None, limit: int | None,
               generation: GenerationParams | None) -> LmmsEntry:
    return LmmsEntry(name, plan_lmms(name, override, data_dirs, limit), generation)


def entry_path(out: Path, entry: LmmsEntry) -> Path:
    return cache_dir(out, entry.plan.task) / "entry.json"


def stored(out: Path, entry: LmmsEntry) -> dict[str, Any] | None:
    p = entry_path(out, entry)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


PLUGINS = {"lmms:": plan_entry}
