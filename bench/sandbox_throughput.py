"""Sandbox throughput: test executions per second, each test a real run in the LiveCodeBench sandbox.

    .venv/bin/python bench/sandbox_throughput.py [--runs 200] [--tests 1,10,50] [--workers N] [--json out.json]

For each tests-per-run value T, `--runs` programs each run T tests (stdin "a b", print a + b, checked by the
judge) on `--workers` parallel sandboxes (default: the cores this process may use), submitted as the benchmark does
(asyncio, `Sandbox.arun`). Reported per T: runs/s, test executions/s, mean wall time per run, and test executions
per CPU-second of the harness and all sandbox processes together (steady under load from other jobs: on N idle
cores, tests/s approaches N x tests/cpu-s). T = 1 is the cost of a
whole sandbox (launcher, namespaces, chroot, interpreter start, one forked test); larger T adds one fork per test.
A `call` row measures LeetCode-style programs the same way: a child that loads the code once (compile check),
then per test a child that loads it and makes one method call (the host never runs the code itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.benchmarks.livecodebench import PREAMBLE, stdout_matches  # noqa: E402
from harness.sandbox import Limits, Program, Sandbox, default_workers  # noqa: E402

STDIO = "a, b = map(int, input().split())\nprint(a + b)\n"
CALL = "class Solution:\n    def add(self, a: int, b: int) -> int:\n        return a + b\n"


async def measure(box: Sandbox, mode: str, runs: int, tests: int) -> dict:
    if mode == "stdio":
        program = Program("stdio", STDIO, [f"{i} {i}\n" for i in range(tests)], preamble=PREAMBLE)
        accept = lambda i, out: stdout_matches(out.stdout or "", f"{2 * i}\n")  # noqa: E731
    else:
        program = Program("call", CALL, [f"{i}\n{i}" for i in range(tests)], fn_name="add", preamble=PREAMBLE)
        accept = lambda i, out: out.value == 2 * i  # noqa: E731
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    results = await asyncio.gather(*(box.arun(program, accept) for _ in range(runs)))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    bad = [r.stop for r in results if r.stop != "completed"]
    if bad:
        raise SystemExit(f"{len(bad)} runs did not complete: {bad[:3]}")
    return {"mode": mode, "tests_per_run": tests, "runs": runs, "wall_s": round(wall, 3),
            "runs_per_s": round(runs / wall, 1), "tests_per_s": round(runs * tests / wall, 1),
            "mean_run_wall_s": round(sum(r.wall_s for r in results) / runs, 4),
            "cpu_s": round(cpu, 3), "tests_per_cpu_s": round(runs * tests / cpu, 1)}


def cpu_seconds() -> float:
    """CPU time of this process and of every sandbox process it has reaped (launchers reap their namespaces)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--tests", default="1,10,50", help="tests per run, comma-separated")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--isolation", default="namespaces", choices=["namespaces", "rlimits"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    box = Sandbox(Limits(), workers=args.workers or default_workers(), isolation=args.isolation)
    box.check()
    rows = []
    for t in (int(x) for x in args.tests.split(",")):
        rows.append(asyncio.run(measure(box, "stdio", args.runs, t)))
    rows.append(asyncio.run(measure(box, "call", args.runs, max(int(x) for x in args.tests.split(",")))))
    box.close()
    report = {"machine": {"cores": os.cpu_count(), "workers": box.workers, "python": platform.python_version(),
                          "kernel": platform.release(), "uid": os.getuid(), "isolation": args.isolation},
              "results": rows}
    print(f"{'mode':6} {'tests/run':>9} {'runs':>5} {'runs/s':>8} {'tests/s':>9} {'ms/run':>8} {'tests/cpu-s':>12}")
    for r in rows:
        print(f"{r['mode']:6} {r['tests_per_run']:>9} {r['runs']:>5} {r['runs_per_s']:>8} {r['tests_per_s']:>9} "
              f"{1000 * r['mean_run_wall_s']:>8.1f} {r['tests_per_cpu_s']:>12}")
    print(json.dumps(report["machine"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
