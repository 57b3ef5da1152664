"""How fast `harness view` opens a large run: a synthetic run directory of 60,000 items (13 benchmarks × 5
repeats, realistic sizes: reasoning of a thinking model, judge rationales, τ² transcripts, instruction verdicts) is
written as generations.jsonl + scores.jsonl + manifest.json, rendered with `harness.report.view.write_view`, and
opened from a file:// URL in headless Chromium. Reported: the time to write the page, the HTML size, and the
page's own marks (ms since navigation start): the first table page drawn (`first table page`), the next frame after it
(`next frame`), the whole document parsed (`parsed`) and the load event (`load`), read over the DevTools protocol.

    .venv/bin/python bench/view_render.py [--items 60000] [--tokens-scale 1.0] [--keep DIR]

Sizes: reasoning tokens per item are log-normal around a per-benchmark median (AIME 12k, LiveCodeBench 9k, HLE 6k,
GPQA 5k, HRM8K 4k, MMLU-Pro / KMMLU-Pro 1.5k, ...), capped at 32k (those are marked truncated), 4 characters a token,
drawn from a 4 MB word corpus at random offsets (so gzip finds no repeats across items beyond what word text has).
Prompts are synthetic (about 2 kB per sample, the same for its repeats) and handed to write_view in place of
rebuilding them from data that a synthetic run does not have.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.engine.base import messages_sha256  # noqa: E402
from harness.report.view import write_view  # noqa: E402

# (name, real sample count, median reasoning tokens, kind)
BENCHMARKS = [("mmlu_pro", 12032, 1500, "mcq"), ("gpqa_diamond", 198, 5000, "mcq"), ("hle", 2158, 6000, "judge"),
              ("aime2025", 30, 12000, "math"), ("livecodebench_v6", 131, 9000, "code"),
              ("tau2_telecom", 114, 800, "tau2"), ("ifbench", 294, 1000, "instr"), ("ifeval", 541, 800, "instr"),
              ("aa_lcr", 100, 2500, "judge"), ("kmmlu_pro", 2822, 1500, "mcq"), ("hrm8k", 8011, 4000, "math"),
              ("click", 1995, 800, "mcq"), ("kobalt", 700, 2000, "mcq")]
REPEATS = 5
WORDS = ("the of and to in is that for it as with was on be by this are or from at which an have not but we can "
         "so if then therefore answer option consider because value equation number check let step first second "
         "compute total sum product each case since thus wait actually maybe probably correct wrong assume given "
         "hence gives means result must would could should figure term factor prime divisible remainder integer "
         "function variable solve substitute derivative integral probability expected count ways arrangements "
         "정답 문제 따라서 계산 경우 보기 그러므로 확인").split()


def corpus(rng: random.Random, size: int) -> str:
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) + ".\n"
        out.append(line)
        n += len(line)
    return "".join(out)


def write_run(d: Path, items: int, scale: float, seed: int = 0) -> tuple[dict, int]:
    rng = random.Random(seed)
    text = corpus(rng, 4_000_000)
    total_real = sum(b[1] for b in BENCHMARKS)
    per = {name: max(20, round(real * items / REPEATS / total_real)) for name, real, _, _ in BENCHMARKS}
    per["mmlu_pro"] += items // REPEATS - sum(per.values())  # exactly `items` in all
    prompts: dict[str, dict] = {}
    manifest = {"schema_version": "2.0", "run_id": d.name, "created": "2026-11-30T00:00:00+00:00",
                "model": {"model": "synthetic-thinking-model"}, "engine": {"kind": "replay"}, "benchmarks": {}}
    raw = 0
    d.mkdir(parents=True)
    with open(d / "generations.jsonl", "w", encoding="utf-8") as g, open(d / "scores.jsonl", "w",
                                                                          encoding="utf-8") as s:
        for name, _, median, kind in BENCHMARKS:
            manifest["benchmarks"][name] = {"version": "1", "task_sha256": None, "repeats": REPEATS,
                                            "scorer": "synthetic", "samples": per[name]}
            bp = prompts[name] = {}
            for i in range(per[name]):
                sid = str(i)
                off = rng.randrange(len(text) - 3000)
                question = text[off:off + rng.randint(800, 3000)]
                msgs = [{"role": "user", "content": f"Question {name} {sid}: {question}"}]
                sha = messages_sha256(msgs)
                for rep in range(REPEATS):
                    bp[(sid, rep)] = {"messages": msgs, "sha256": sha}
                    tokens = min(32768, int(rng.lognormvariate(math.log(median * scale), 0.8)))
                    n = tokens * 4
                    off = rng.randrange(len(text) - min(n, len(text) - 1))
                    reasoning = (text[off:off + n] * (1 + n // len(text)))[:n]
                    truncated = tokens >= 32768
                    right = rng.random() < 0.7
                    gold = rng.choice("ABCDEFGHIJ") if kind == "mcq" else str(rng.randint(0, 999))
                    answer = gold if right else ("A" if gold != "A" else "B")
                    gen = {"benchmark": name, "sample_id": sid, "repeat": rep, "seed": rng.randrange(2**31),
                           "category": f"cat{i % 7}", "prompt_sha256": sha, "prompt_meta": None,
                           "request": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
                           "response": f"So the answer is {answer}. " + text[off:off + rng.randint(100, 600)],
                           "reasoning": reasoning, "finish_reason": "length" if truncated else "stop",
                           "prompt_tokens": len(msgs[0]["content"]) // 4, "completion_tokens": tokens + 150,
                           "reasoning_tokens": tokens, "latency_s": round(tokens / 40 + rng.random(), 2),
                           "error": None, "error_kind": None, "engine_extra": None,
                           "time": "2026-11-30T00:00:00+00:00"}
                    details: dict = {"rule": "answer_is"}
                    if kind == "judge":
                        details = {"judge": {"correct": "yes" if right else "no", "confidence": 80},
                                   "judge_raw": text[off:off + rng.randint(500, 2000)]}
                    elif kind == "instr":
                        ids = [f"instr:{k}" for k in range(rng.randint(1, 4))]
                        details = {"instructions": ids, "strict_instructions": [right] * len(ids),
                                   "loose_instructions": [right] * len(ids), "strict_prompt": right,
                                   "loose_prompt": right}
                    elif kind == "code":
                        details = {"passed": 20 if right else 7, "total": 20}
                        if not right:
                            details.update(kind="wrong_answer", reason="wrong answer on test 8", test=8)
                    elif kind == "tau2":
                        msgs_t = [{"role": ("assistant", "user")[k % 2], "turn_idx": k,
                                   "content": text[off + 300 * k:off + 300 * k + rng.randint(100, 400)]}
                                  for k in range(rng.randint(10, 30))]
                        gen["engine_extra"] = {"tau2": {"termination_reason": "user_stop", "steps": len(msgs_t),
                                                        "tool_errors": 0, "tool_calls": [], "usage": {},
                                                        "note": None, "messages": msgs_t}}
                        details = {"reward": float(right), "reward_basis": ["ENV_ASSERTION"],
                                   "reward_breakdown": {"ENV_ASSERTION": float(right)}}
                    score = {"benchmark": name, "sample_id": sid, "repeat": rep, "scorer": "synthetic",
                             "target": gold, "extracted": answer, "score": float(right), "details": details,
                             "error": None, "generation_time": gen["time"], "time": gen["time"]}
                    line = json.dumps(gen, ensure_ascii=False)
                    raw += len(line)
                    g.write(line + "\n")
                    s.write(json.dumps(score, ensure_ascii=False) + "\n")
    (d / "manifest.json").write_text(json.dumps(manifest))
    return prompts, raw


def open_in_chromium(page: Path, profile: Path, timeout: float = 600) -> tuple[dict, float]:
    """Open `page` in headless Chromium and read the page's marks over the DevTools protocol (a --dump-dom of a
    300 MB page spends minutes serialising the document after the page is up)."""
    import asyncio

    import aiohttp

    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,900",
           "--remote-debugging-port=0", "about:blank"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def go() -> tuple[dict, float]:
        port_file = profile / "DevToolsActivePort"
        t_end = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > t_end:
                raise SystemExit("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                target = next(t for t in await r.json() if t["type"] == "page")
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                n = 0

                async def call(method: str, **params):
                    nonlocal n
                    n += 1
                    await ws.send_json({"id": n, "method": method, "params": params})
                    while True:
                        msg = await ws.receive_json()
                        if msg.get("id") == n:
                            return msg.get("result")

                t0 = time.perf_counter()
                await call("Page.navigate", url=page.as_uri())
                marks: dict = {}
                expr = "JSON.stringify(Object.assign({}, document.documentElement.dataset))"
                while "loadMs" not in marks and time.perf_counter() - t0 < timeout:
                    await asyncio.sleep(0.05)
                    res = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                    value = ((res or {}).get("result") or {}).get("value")
                    marks = json.loads(value) if value else {}
                wall = time.perf_counter() - t0
                # after load: the largest benchmark's tab, the `wrong` filter on it, and opening an item (its body
                # chunk inflated), each timed inside the page
                probe = """(async () => {
                  const v = window.harnessView, B = v.index.benchmarks, out = {};
                  const big = B.reduce((a, b, k) => b.n > B[a].n ? k : a, 0);
                  let t = performance.now(); v.select(big); out.tabMs = performance.now() - t;
                  t = performance.now(); v.state.flags = 1; await v.refresh(); out.filterMs = performance.now() - t;
                  out.shown = v.state.rows.length; out.of = B[big].n;
                  t = performance.now(); await v.openItem(v.state.rows[0]); out.openItemMs = performance.now() - t;
                  v.state.flags = 0; v.state.q = "ways arrangements"; v.state.full = true;
                  t = performance.now(); await v.refresh(true); out.fullTextMs = performance.now() - t;
                  out.fullTextHits = v.state.rows.length;
                  return JSON.stringify(out); })()"""
                res = await call("Runtime.evaluate", expression=probe, returnByValue=True, awaitPromise=True)
                marks["probe"] = json.loads(res["result"]["value"])
                return marks, wall

    try:
        marks, wall = asyncio.run(go())
    finally:
        proc.kill()
        proc.wait()
    if "firstTableMs" not in marks:
        raise SystemExit(f"the page set no marks in {timeout:.0f} s: {marks}")
    probe = marks.pop("probe")
    return {**{k.removesuffix("Ms"): float(v) for k, v in marks.items() if k.endswith("Ms")},
            **{k: round(v, 1) for k, v in probe.items()}}, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=60_000)
    ap.add_argument("--tokens-scale", type=float, default=1.0, help="multiply every median reasoning length")
    ap.add_argument("--opens", type=int, default=3, help="times the page is opened (a fresh profile each)")
    ap.add_argument("--keep", type=Path, help="write the run and the page here and keep them")
    ap.add_argument("--open-only", type=Path, help="only open this page written before (e.g. KEEP/view.html)")
    a = ap.parse_args()
    if a.open_only:
        for k in range(a.opens):
            marks, wall = open_in_chromium(a.open_only, Path(tempfile.mkdtemp(prefix="view-bench-profile-")))
            print(f"chromium open {k + 1}: {marks} (ms since navigation start); load seen after {wall:.1f} s")
        return
    work = a.keep or Path(tempfile.mkdtemp(prefix="view-bench-"))
    try:
        run = work / "run"
        t0 = time.perf_counter()
        prompts, raw = write_run(run, a.items, a.tokens_scale)
        t_run = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = write_view([run], work / "view.html", rebuild=lambda *_: (prompts, {}))
        t_view = time.perf_counter() - t0
        print(f"run: {a.items} items, generations.jsonl {raw / 1e6:.0f} MB (written in {t_run:.0f} s)")
        print(f"harness view: {t_view:.1f} s; HTML {got['bytes'] / 1e6:.1f} MB ({got['chunks']} body chunks, "
              f"{got['bodies_raw_bytes'] / 1e6:.0f} MB of item JSON compressed to {got['bodies_bytes'] / 1e6:.0f} MB "
              f"base64)")
        for k in range(a.opens):
            marks, wall = open_in_chromium(got["path"], work / f"profile-{k}")
            print("chromium open {}: first table page {:.0f} ms, next frame {:.0f} ms, document parsed {:.0f} ms, "
                  "load {:.0f} ms (ms since navigation start); then the largest benchmark's tab {:.0f} ms, its wrong "
                  "filter {:.0f} ms ({} of {} items), opening an item {:.0f} ms, a full-text search of its prompts, "
                  "reasoning and answers {:.1f} s ({} hits)".format(
                      k + 1, marks["firstTable"], marks["firstFrame"], marks["parsed"], marks["load"], marks["tabMs"],
                      marks["filterMs"], marks["shown"], marks["of"], marks["openItemMs"], marks["fullTextMs"] / 1000,
                      marks["fullTextHits"]))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
