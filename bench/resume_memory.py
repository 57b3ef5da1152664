"""Peak memory of resuming, re-scoring and summarising a large finished run (issue 15: resume and summary stream the
records instead of holding them).

Builds a real run directory with `harness run` (MMLU-Pro and AIME 2025 from the shared data, answered by the
stand-in server `harness.serve --backend scripted`, not streamed), then gives every generation a long reasoning text
(log-normal lengths; AIME's ten times MMLU-Pro's) until generations.jsonl + scores.jsonl reach --mib, keeping each
record's time so that every verdict stays current. Then measures, each in its own process, the peak RSS
(getrusage ru_maxrss of the harness process itself; the scoring pool's worker processes are reported apart):

  resume     the same `harness run` command again: everything is finished, so it must send no request (the base
             URL points at a closed port: a request would fail the run) and only rewrite manifest and summary
  score      `harness score RUN_DIR`: every verdict is current, so it loads, checks and summarises
  rescore    `harness score` after scores.jsonl is moved away: every item is scored again from its stored answer
  scorecard  `harness points --results RUN_DIR --scheme stage1` reads the records through the scorecard loader
  summary    `harness summary RUN_DIR` with summary.json moved away: the summary computed from the records (as for a
             run that stopped before writing one)

    .venv/bin/python bench/resume_memory.py --mib 250 [--dir /tmp/resume-mem] [--pythonpath OLD_CHECKOUT]

--pythonpath runs the measured commands with another checkout of harness first on the path (e.g. `git archive` of an
older commit) to compare before and after on the same run directory. Copy this tree's harness/benchmarks and tasks
into it: the scorer fingerprint hashes them, and a fingerprint that differs makes the older code re-score every item
(then it measures a re-score, not a resume).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# runs the harness CLI in this process and reports its own peak RSS and its children's
LAUNCHER = """
import atexit, json, os, resource, sys
if os.environ.get("PYTHONPATH"):  # the checkout given first, not the one in the working directory
    sys.path = [p for p in sys.path if p not in ("", os.getcwd())]
def report():
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stderr.write("\\nRSS " + json.dumps({"self_kib": me, "children_kib": kids}) + "\\n")
atexit.register(report)
import harness
sys.stderr.write("HARNESS " + harness.__file__ + "\\n")
from harness.cli import app
sys.argv = ["harness"] + sys.argv[1:]
app()
"""


def words(seed: int, n: int = 400_000) -> str:
    """A long pseudo-English text to cut reasoning traces from (no two traces alike)."""
    rng = random.Random(seed)
    vocab = ("the of and to a in is that for it as with be on not this by are or we so if then which let "
             "compute answer option value step therefore consider check equation since because case first "
             "second next finally assume gives means number result so sum product term factor hence").split()
    return " ".join(rng.choice(vocab) for _ in range(n))


def serve(port: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "harness.serve", "serve", "m", "--backend", "scripted", "--port",
                          str(port), "--reply", "Let me think. The answer is (A)."], cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import urllib.request

    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return p
        except OSError:
            time.sleep(0.2)
    p.kill()
    raise SystemExit("the stand-in server did not start")


def run_command(out: Path, base_url: str, limit: int, repeats: int) -> list[str]:
    return ["run", "--benchmarks", "mmlu_pro,aime2025", "--engine", "openai", "--model", "m", "--base-url", base_url,
            "--no-stream", "--limit", str(limit), "--repeats", str(repeats), "--max-tokens", "32768",
            "--max-items", "1000000", "--no-progress", "--out", str(out)]


def build(out: Path, mib: float, limit: int, repeats: int, seed: int) -> dict:
    from harness.engine.vllm import reserve_port

    if out.exists():
        shutil.rmtree(out)
    port = reserve_port()
    srv = serve(port)
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "harness.cli", *run_command(out, f"http://127.0.0.1:{port}/v1",
                                                                              limit, repeats)],
                           cwd=REPO, capture_output=True, text=True)
    finally:
        srv.terminate()
        srv.wait()
    if p.returncode not in (0, 3):
        raise SystemExit(f"building the run failed ({p.returncode}):\n{p.stderr[-3000:]}")
    built_s = time.perf_counter() - t0
    gen, sc = out / "generations.jsonl", out / "scores.jsonl"
    n = sum(1 for _ in open(gen, "rb"))
    budget = mib * 2**20 - gen.stat().st_size - sc.stat().st_size
    text = words(seed)
    rng = random.Random(seed)
    # log-normal lengths with sigma 0.8; mean chars per item so that the files reach the target
    weights = {"mmlu_pro": 1.0, "aime2025": 10.0}
    counts: dict[str, int] = {}
    for line in open(gen, encoding="utf-8"):
        b = json.loads(line)["benchmark"]
        counts[b] = counts.get(b, 0) + 1
    unit = budget / sum(weights[b] * c for b, c in counts.items())
    sigma = 0.8
    tmp = gen.with_suffix(".tmp")
    with open(gen, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line in src:
            r = json.loads(line)
            mean = unit * weights[r["benchmark"]]
            length = int(min(len(text) - 1, rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma)))
            start = rng.randrange(0, len(text) - length)
            r["reasoning"] = text[start:start + length]
            r["reasoning_tokens"] = length // 4
            r["completion_tokens"] = length // 4 + 12
            dst.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, gen)
    return {"items": n, "by_benchmark": counts, "build_s": round(built_s, 1),
            "generations_mib": round(gen.stat().st_size / 2**20, 1), "scores_mib": round(sc.stat().st_size / 2**20, 1)}


def measure(args: list[str], pythonpath: str | None) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if pythonpath:  # the other checkout finds its data beside itself by default: point it at this one's
        env["PYTHONPATH"] = pythonpath
        if (REPO.parent / "shared" / "data").is_dir():
            env.setdefault("HARNESS_DATA_DIR", str(REPO.parent / "shared" / "data"))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=REPO, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    rss = next((json.loads(line[4:]) for line in p.stderr.splitlines() if line.startswith("RSS ")), None)
    where = next((line[8:] for line in p.stderr.splitlines() if line.startswith("HARNESS ")), None)
    if rss is None:
        raise SystemExit(f"{' '.join(args[:2])}: no measurement ({p.returncode}):\n{p.stderr[-3000:]}")
    return {"exit": p.returncode, "wall_s": round(wall, 1), "peak_rss_mb": round(rss["self_kib"] / 1000, 1),
            "children_peak_rss_mb": round(rss["children_kib"] / 1000, 1), "harness": where,
            "stderr_tail": p.stderr.strip().splitlines()[-3:]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/resume-memory-run"))
    ap.add_argument("--mib", type=float, default=250.0, help="size of generations.jsonl + scores.jsonl")
    ap.add_argument("--limit", type=int, default=12032, help="MMLU-Pro questions (AIME has 30)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="measure an existing --dir instead of building it")
    ap.add_argument("--pythonpath", default=None, help="measure another harness checkout (PYTHONPATH)")
    ap.add_argument("--only", default="resume,score,rescore,scorecard,summary")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    out = a.dir
    info = {"run_dir": str(out)}
    if not a.reuse:
        info.update(build(out, a.mib, a.limit, a.repeats, a.seed))
    gen, sc = out / "generations.jsonl", out / "scores.jsonl"
    info["records_mib"] = round((gen.stat().st_size + sc.stat().st_size) / 2**20, 1)
    lines_before = sum(1 for _ in open(gen, "rb"))
    results = {}
    only = a.only.split(",")
    if "resume" in only:  # a closed port: any request would fail the run
        from harness.engine.vllm import reserve_port

        results["resume"] = measure(run_command(out, f"http://127.0.0.1:{reserve_port()}/v1", a.limit, a.repeats),
                                    a.pythonpath)
        results["resume"]["new_generations"] = sum(1 for _ in open(gen, "rb")) - lines_before
    if "score" in only:
        results["score"] = measure(["score", str(out)], a.pythonpath)
    if "scorecard" in only:
        results["scorecard"] = measure(["points", "--results", str(out), "--scheme", "stage1", "--json",
                                        str(out.with_name(out.name + "-points.json"))], a.pythonpath)
    if "rescore" in only:  # every verdict missing: scored again from the stored answers
        saved = sc.with_suffix(".saved")
        shutil.copyfile(sc, saved)
        sc.unlink()
        try:
            results["rescore"] = measure(["score", str(out)], a.pythonpath)
        finally:
            os.replace(saved, sc)
    if "summary" in only:
        kept = out / "summary.json.saved"
        os.replace(out / "summary.json", kept)
        try:
            results["summary"] = measure(["summary", str(out)], a.pythonpath)
        finally:
            os.replace(kept, out / "summary.json")
    info["results"] = results
    for name, r in results.items():
        print(f"{name:9s} peak RSS {r['peak_rss_mb']:7.1f} MB (scoring workers {r['children_peak_rss_mb']:.1f} MB), "
              f"{r['wall_s']:.1f} s, exit {r['exit']}" + (f", new generations {r['new_generations']}"
                                                           if "new_generations" in r else ""))
    print(f"records: {info['records_mib']} MiB in {out}")
    if a.json:
        a.json.write_text(json.dumps(info, indent=2))
    return info


if __name__ == "__main__":
    main()
