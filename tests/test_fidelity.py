"""End to end from ../shared/data: GPQA-Diamond (the authors' encrypted zip, read in memory), KoBALT-700 and HRM8K's
KSM subset scored by `harness score-responses` from crafted responses, with the official rule as the score and the
lenient (or lm-eval) reading beside it as a metric. IFEval's end-to-end check on its 541 real rows is in
tests/test_ifeval.py, IFBench's on its 294 in tests/test_ifbench.py.

Responses here hold letters and LaTeX answers only: no GPQA question or answer text is written anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA, read_samples
from harness.benchmarks import load_benchmark
from harness.data import load_rows

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")


def bench_and_samples(name: str):
    bench = load_benchmark(name)
    loaded = load_rows(name, bench.spec.data, None, [SHARED_DATA])
    bench.data_source = loaded.source
    return bench, bench.samples(loaded.rows)


def score_responses(tmp_path: Path, name: str, lines: list[dict]) -> tuple[dict, dict]:
    resp = tmp_path / f"{name}.jsonl"
    resp.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    out = tmp_path / name
    p = subprocess.run([sys.executable, "-m", "harness.cli", "score-responses", "--benchmark", name, "--responses",
                        str(resp), "--out", str(out), "--data-dir", str(SHARED_DATA)], cwd=REPO,
                       capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert p.returncode == 0, p.stderr
    recs = {(r["sample_id"], r["repeat"]): r for r in read_samples(out)}
    return recs, json.loads((out / "summary.json").read_text())["benchmarks"][name]


@needs_shared
def test_gpqa_diamond_end_to_end_from_the_zip(tmp_path):
    bench, samples = bench_and_samples("gpqa_diamond")
    assert len(samples) == 198
    lines, want, want_lenient = [], [], []
    for i, s in enumerate(samples):
        for rep in (0, 1):
            t = bench.prompt(s, rep).target
            w = "ABCD"[("ABCD".index(t) + 1) % 4]
            k = (i + rep) % 20
            if k == 0:  # not in simple-evals' form: unparsed, 0; the lenient cascade reads it
                out, ok, lenient = f"The answer is ({t}).", 0, 1
            elif k in (1, 2, 3):
                out, ok, lenient = f"Reasoning...\n\nAnswer: {w}", 0, 0
            elif k == 4:  # simple-evals takes the FIRST match
                out, ok, lenient = f"Answer: {w} at first sight; on reflection\nAnswer: {t}", 0, 1
            else:
                out, ok, lenient = f"Reasoning...\n\nAnswer: {t}", 1, 1
            lines.append({"sample_id": s.id, "repeat": rep, "response": out})
            want.append(ok)
            want_lenient.append(lenient)
    recs, summary = score_responses(tmp_path, "gpqa_diamond", lines)
    assert len(recs) == 396 and summary["n"] == 198 and summary["repeats"] == 2
    assert [recs[(x["sample_id"], x["repeat"])]["score"] for x in lines] == want
    assert summary["score"] == pytest.approx(100 * sum(want) / 396, abs=1e-3)  # every sample has 2 repeats
    assert summary["metrics"]["score_lenient"] == pytest.approx(100 * sum(want_lenient) / 396, abs=1e-3)
    unparsed = sum(x["response"].startswith("The answer is") for x in lines)
    assert summary["unparsed_rate"] == pytest.approx(unparsed / 396, abs=1e-4) and 0 < unparsed < 40
    assert summary["valid"] and summary["error_rate"] == 0
    assert set(summary["categories"]) == {"Physics", "Chemistry", "Biology"}
    # nothing from the zip was unpacked next to it
    assert sorted(p.name for p in (SHARED_DATA / "gpqa").iterdir()) == ["dataset.zip"]


@needs_shared
def test_kobalt_end_to_end(tmp_path):
    bench, samples = bench_and_samples("kobalt")
    assert len(samples) == 700
    lines, want, want_lenient = [], [], []
    for i, s in enumerate(samples):
        t = bench.prompt(s, 0).target
        w = "ABCDEFGHIJ"[("ABCDEFGHIJ".index(t) + 1) % 10]
        k = i % 20
        if k == 0:  # a bare letter: upstream extracts nothing and scores it wrong
            out, ok, lenient = f"풀이를 마쳤다.\n{t}", 0, 1
        elif k in (1, 2):
            out, ok, lenient = f"따라서 정답은 {w}입니다.", 0, 0
        elif k == 3:  # two statements, two letters: "T, W" is not the gold
            out, ok, lenient = f"정답은 {t}입니다. 아니, 정답은 {w}입니다.", 0, 0
        else:
            out, ok, lenient = f"따라서 정답은 {t}입니다.", 1, 1
        lines.append({"sample_id": s.id, "response": out})
        want.append(ok)
        want_lenient.append(lenient)
    recs, summary = score_responses(tmp_path, "kobalt", lines)
    assert [recs[(x["sample_id"], 0)]["score"] for x in lines] == want
    assert summary["score"] == pytest.approx(100 * sum(want) / 700, abs=1e-3)
    assert summary["metrics"]["score_lenient"] == pytest.approx(100 * sum(want_lenient) / 700, abs=1e-3)
    assert summary["unparsed_rate"] == pytest.approx(35 / 700, abs=1e-4) and summary["valid"]
    assert set(summary["categories"]) == {"Syntax", "Semantics", "Pragmatics", "Phonetics/Phonology", "Morphology"}


@needs_shared
def test_hrm8k_ksm_end_to_end(tmp_path):
    """Each KSM gold answer boxed as written scores 1 under math-verify, except KSM/201, whose upstream gold
    `\\frac[13}{20}` is malformed. lm-eval 0.4.13's verdict (metrics.score_lmeval) on the same answers is far lower:
    its is_equiv parses the gold like a response, so a LaTeX gold without a box becomes its last number."""
    bench, samples = bench_and_samples("hrm8k")
    assert len(samples) == 1428
    lines, want = [], []
    for i, s in enumerate(samples):
        gold = s.row["answer"]
        k = i % 10
        if k == 1:  # the last box decides: an earlier wrong box does not matter
            out, ok = f"처음엔 \\boxed{{12345}}라고 생각했지만 다시 풀면 \\boxed{{{gold}}}", 1
        elif k == 2:  # ... and a later wrong box does
            out, ok = f"\\boxed{{{gold}}}이라고 했지만 검산하면 \\boxed{{12345}}", 0
        else:
            out, ok = f"풀이 생략.\n\\boxed{{{gold}}}", 1
        if s.id == "KSM/201":
            ok = 0
        lines.append({"sample_id": s.id, "response": out})
        want.append(ok)
    recs, summary = score_responses(tmp_path, "hrm8k", lines)
    got = [recs[(x["sample_id"], 0)]["score"] for x in lines]
    assert [x["sample_id"] for x, g, w in zip(lines, got, want) if g != w] == []
    assert summary["score"] == pytest.approx(100 * sum(want) / 1428, abs=1e-3)
    assert summary["categories"] == {"KSM": summary["score"]} and summary["valid"]
    lm = summary["metrics"]["score_lmeval"]
    assert lm is not None and lm < summary["score"] - 10
