"""Harness throughput: how fast the runner turns work items into scored, persisted records.

    .venv/bin/python bench/throughput.py [--n 2000] [--latency 0.2] [--concurrency 256] [--json out.json]

Three measurements on real MMLU-Pro data (runner.run end to end: prompt building, request, extraction, one
generation and score record per item, manifest and summary):
  (a) http     openai engine against a local scripted server that answers at once  -> samples/s
  (b) latency  the same, the server sleeping --latency s per request, --concurrency in flight
               -> wall vs ideal (n x latency / concurrency); the ratio is the overhead factor
  (c) replay   the replay engine (no HTTP): harness overhead alone                   -> samples/s
The server (python -m harness.serve, a separate process) shares the CPU with the harness, so (a) measures both.
--profile prints the top functions (cProfile, harness process only) of each measurement.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import asyncio
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import config as cfg  # noqa: E402
from harness import runner  # noqa: E402
from harness.engine import make_engine  # noqa: E402
from harness.engine.client import wait_healthy  # noqa: E402
from harness.engine.vllm import ServerProcess, reserve_port  # noqa: E402

REPLY = "The answer is (A)."


@contextmanager
def server(latency: float, log: Path):
    """A scripted OpenAI-compatible server on a free port, through the launcher the vllm engine uses."""
    port = reserve_port()
    # a context as large as the served models' (Qwen3: 262,144), so that the pre-run context check (harness.fit)
    # sees that these prompts fit without tokenizing them, as it would on a real server
    cmd = [sys.executable, "-m", "harness.serve", "serve", "fake-model", "--backend", "scripted", "--reply", REPLY,
           "--port", str(port), "--max-model-len", "262144"]
    if latency:
        cmd += ["--latency", str(latency)]
    proc = ServerProcess(cmd, log)
    proc.start()
    try:
        url = f"http://127.0.0.1:{port}/v1"
        asyncio.run(wait_healthy(url, 60, proc.check))
        yield url
    finally:
        proc.stop(grace=10)


def plan(spec: cfg.ModelSpec, n: int, data_dirs: list[Path]) -> list[runner.BenchPlan]:
    """MMLU-Pro, exactly n work items (the first questions; more repeats if n exceeds the data)."""
    plans = runner.plan_benchmarks([cfg.SuiteEntry(name="mmlu_pro")], spec, data_dirs=data_dirs)
    p = plans[0]
    ids = [s.id for s in p.samples]
    p.keys = [(ids[i % len(ids)], i // len(ids)) for i in range(n)]
    p.repeats = p.keys[-1][1] + 1
    return plans


def measure(label: str, spec: cfg.ModelSpec, n: int, workdir: Path, data_dirs: list[Path], profile: bool) -> dict:
    t0 = time.perf_counter()
    plans = plan(spec, n, data_dirs)
    t_plan = time.perf_counter() - t0
    out = workdir / label
    opts = runner.RunOptions(out=out, run_id=label, workers=spec.concurrency, argv=["bench/throughput.py"])
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    summary = runner.run(plans, spec, make_engine(spec), opts)
    if prof:
        prof.disable()
    wall = time.perf_counter() - t0
    b = summary["benchmarks"]["mmlu_pro"]
    lines = sum(1 for _ in open(out / "generations.jsonl", encoding="utf-8"))
    scored = sum(1 for _ in open(out / "scores.jsonl", encoding="utf-8"))
    if b["items"] != n or lines != n or scored != n or b["error_rate"]:
        raise RuntimeError(f"{label}: expected {n} clean records, got items={b['items']} generations={lines} "
                           f"scores={scored} error_rate={b['error_rate']}")
    res = {"n": n, "concurrency": spec.concurrency, "plan_s": round(t_plan, 3), "wall_s": round(wall, 3),
           "samples_per_s": round(n / wall, 1)}
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
        res["profile_tottime_top15"] = s.getvalue()
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="work items per measurement (default 2000)")
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per request in (b), seconds")
    ap.add_argument("--concurrency", type=int, default=256, help="requests in flight (default 256)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--data-dir", type=Path, action="append", default=None,
                    help="local data root (default: ../shared/data)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile top-15 of each measurement")
    ap.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these measurements")
    args = ap.parse_args(argv)
    data_dirs = args.data_dir or [d for d in [cfg.default_data_dir()] if d]
    which = set(args.only or "abc")

    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform()},
                     "params": {"n": args.n, "latency_s": args.latency, "concurrency": args.concurrency}}
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        work = Path(tmp)
        if "a" in which:
            with server(0.0, work / "server_a.log") as url:
                spec = cfg.ModelSpec(engine="openai", model="fake-model", base_url=url,
                                     concurrency=args.concurrency, max_retries=0)
                results["a_http"] = measure("a_http", spec, args.n, work, data_dirs, args.profile)
        if "b" in which:
            with server(args.latency, work / "server_b.log") as url:
                spec = cfg.ModelSpec(engine="openai", model="fake-model", base_url=url,
                                     concurrency=args.concurrency, max_retries=0)
                r = measure("b_latency", spec, args.n, work, data_dirs, args.profile)
                r["latency_s"] = args.latency
                r["ideal_s"] = round(args.n * args.latency / args.concurrency, 3)
                r["wall_over_ideal"] = round(r["wall_s"] / r["ideal_s"], 2)
                results["b_latency"] = r
        if "c" in which:
            responses = work / "responses.jsonl"
            ids = plan(cfg.ModelSpec(engine="replay", model="x", responses="x"), args.n, data_dirs)[0].keys
            with open(responses, "w", encoding="utf-8") as f:
                for sid, rep in ids:
                    f.write(json.dumps({"sample_id": sid, "repeat": rep, "response": REPLY}) + "\n")
            spec = cfg.ModelSpec(engine="replay", model=str(responses), responses=str(responses),
                                 concurrency=args.concurrency)
            results["c_replay"] = measure("c_replay", spec, args.n, work, data_dirs, args.profile)

    print(f"\nharness throughput, MMLU-Pro, n={args.n}, concurrency={args.concurrency}, "
          f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}")
    print(f"{'measurement':<34}{'wall s':>9}{'samples/s':>11}{'ideal s':>9}{'wall/ideal':>12}")
    names = {"a_http": "(a) HTTP, instant server", "b_latency": f"(b) HTTP, {args.latency}s latency",
             "c_replay": "(c) replay engine (no HTTP)"}
    for k, title in names.items():
        r = results.get(k)
        if not r:
            continue
        print(f"{title:<34}{r['wall_s']:>9.2f}{r['samples_per_s']:>11.1f}"
              f"{r.get('ideal_s', float('nan')):>9.2f}{r.get('wall_over_ideal', float('nan')):>12.2f}")
    print("(plan/data loading, not included above: "
          + ", ".join(f"{k} {results[k]['plan_s']:.2f}s" for k in names if k in results) + ")")
    if args.profile:
        for k in names:
            if k in results:
                print(f"\n--- {k}: cProfile, top 15 by own time (harness process) ---")
                print(results[k]["profile_tottime_top15"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
