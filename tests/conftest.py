from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.engine.batch import concurrency_for
from harness.engine.vllm import ServerProcess, reserve_port

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures"
SERVE = [sys.executable, "-m", "harness.serve"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Tests never touch the repo's results/ and never reach the hub."""
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(SHARED_DATA))


def mmlu_ids(n: int) -> list[tuple[str, str]]:
    """(question_id, answer letter) of the first n real MMLU-Pro rows."""
    import gzip

    out = []
    with gzip.open(SHARED_DATA / "mmlu_pro" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.append((str(r["question_id"]), r["answer"]))
            if len(out) == n:
                break
    return out


class Server:
    """A scripted OpenAI-compatible server subprocess on 127.0.0.1 (the same process class the vllm engine uses)."""

    def __init__(self, tmp: Path, *args: str, model: str = "scripted-model"):
        self.port = reserve_port()
        self.model = model
        self.proc = ServerProcess(
            [*SERVE, "serve", model, "--port", str(self.port), "--backend", "scripted", *args], tmp / "server.log"
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "Server":
        import asyncio

        from harness.engine.client import wait_healthy

        self.proc.start()
        asyncio.run(wait_healthy(self.base_url, 60, self.proc.check))
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stop(grace=5)


@pytest.fixture
def scripted_server(tmp_path):
    def make(*args: str, model: str = "scripted-model") -> Server:
        return Server(tmp_path, *args, model=model)

    return make


def run_benchmarks(spec, out: Path, benchmarks=("mmlu_pro",), limit=5, repeats=1, generation=None, **opts):
    """Plan and run like `harness run` does, in-process."""
    from harness import launch, runner
    from harness.config import SuiteEntry
    from harness.engine import make_engine

    plans = runner.plan_benchmarks([SuiteEntry(name=b) for b in benchmarks], spec, repeats=repeats, limit=limit,
                                   generation=generation, roles=tuple(opts.get("roles", {})),
                                   plugins=launch.plugins())
    ro = runner.RunOptions(out=out, run_id=out.name, workers=opts.pop("workers", concurrency_for(spec)[0]), **opts)
    return runner.run(plans, spec, make_engine(spec), ro)


def read_samples(out: Path) -> list[dict]:
    """Every work item of a run (generation + current verdict), as the summary reads them."""
    from harness.store import run_items

    return list(run_items(out).values())
