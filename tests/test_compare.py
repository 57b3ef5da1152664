"""`harness compare RUN_A RUN_B`: two runs of real MMLU-Pro rows (../shared/data) scored by `harness score-responses`
from answers built so that known items flip, compared item by item; runs of different data or prompts refused; the
comparison with a published target table still works, says it is not paired, and marks invalid scores."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from conftest import REPO, SHARED_DATA, mmlu_ids
from harness.cli import app

cli = CliRunner()
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")

N = 40
GAINED = {3, 9, 11, 17, 23, 29, 31}  # odd: wrong in A, right in B
LOST = {0, 14}  # right in A, wrong in B
RIGHT_IN_BOTH = set(range(0, N, 2)) - LOST  # the even items, less the lost ones


def _wrong(letter: str) -> str:
    return "A" if letter != "A" else "B"


def _run(tmp_path: Path, name: str, right, repeats: int = 1, extra: list[str] = (), env: dict | None = None) -> Path:
    """Score responses to the first N real MMLU-Pro rows; item i (repeat r) is answered right when right(i, r)."""
    rows = []
    for i, (sid, answer) in enumerate(mmlu_ids(N)):
        for rep in range(repeats):
            letter = answer if right(i, rep) else _wrong(answer)
            rows.append({"sample_id": sid, "repeat": rep, "response": f"Step by step... the answer is ({letter})"})
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / name
    r = cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f), "--out", str(out),
                         "--name", name, *extra], env=env)
    assert r.exit_code in (0, 3), r.output
    return out


def _a(i, rep=0):
    return i in RIGHT_IN_BOTH or i in LOST


def _b(i, rep=0):
    return i in RIGHT_IN_BOTH or i in GAINED


@needs_shared
def test_known_flips_counted_and_mcnemar_p_equals_scipy(tmp_path):
    a, b = _run(tmp_path, "a", _a), _run(tmp_path, "b", _b)
    out = tmp_path / "cmp.json"
    r = cli.invoke(app, ["compare", str(a), str(b), "--json", str(out)], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())["benchmarks"]["mmlu_pro"]
    assert (row["n"], row["gained"], row["lost"]) == (N, len(GAINED), len(LOST))
    assert row["table"] == {"both_right": len(RIGHT_IN_BOTH), "gained": len(GAINED), "lost": len(LOST),
                            "both_wrong": N - len(RIGHT_IN_BOTH) - len(GAINED) - len(LOST)}
    assert row["score_a"] == pytest.approx(100 * (len(RIGHT_IN_BOTH) + len(LOST)) / N)
    assert row["difference"] == pytest.approx(100 * (len(GAINED) - len(LOST)) / N)
    # McNemar's exact test: the binomial test of the discordant pairs, as scipy computes it
    want = stats.binomtest(len(GAINED), len(GAINED) + len(LOST), 0.5).pvalue
    assert row["p_value"] == want and row["test"].startswith("McNemar")
    assert want == pytest.approx(0.1796875)  # 2 × P(X ≤ 2), X ~ Bin(9, 1/2) = 2 × 46/512
    lo, hi = row["ci95"]
    assert lo < row["difference"] < hi and lo > -100 and hi < 100
    assert "+7/−2" in r.output and f"{want:.3g}" in r.output and "McNemar" in r.output

    # the same command twice gives the same CI (the seed is recorded); B − A is the negative of A − B
    r2 = cli.invoke(app, ["compare", str(b), str(a), "--json", str(tmp_path / "rev.json")])
    rev = json.loads((tmp_path / "rev.json").read_text())
    back = rev["benchmarks"]["mmlu_pro"]
    assert r2.exit_code == 0 and rev["seed"] == 20260101 and rev["resamples"] == 10_000
    assert (back["gained"], back["lost"], back["p_value"]) == (len(LOST), len(GAINED), want)
    assert back["difference"] == -row["difference"]


@needs_shared
def test_means_over_repeats_use_the_paired_bootstrap(tmp_path):
    # 3 repeats: A gets item i right in repeat r when (i + r) % 3 == 0; B in two of three repeats for i < 30
    a = _run(tmp_path, "a", lambda i, r: (i + r) % 3 == 0, repeats=3)
    b = _run(tmp_path, "b", lambda i, r: (i + r) % 3 != 0 if i < 30 else (i + r) % 3 == 0, repeats=3)
    r = cli.invoke(app, ["compare", str(a), str(b), "--json", str(tmp_path / "c.json"), "--resamples", "2000"])
    assert r.exit_code == 0, r.output
    row = json.loads((tmp_path / "c.json").read_text())["benchmarks"]["mmlu_pro"]
    assert row["test"].startswith("paired bootstrap") and "table" not in row
    assert (row["gained"], row["lost"], row["unchanged"]) == (30, 0, 10)
    assert row["difference"] == pytest.approx(100 * 30 * (1 / 3) / N)
    assert 0 < row["ci95"][0] < row["difference"] < row["ci95"][1] and row["p_value"] < 0.01


@needs_shared
def test_runs_of_different_data_or_prompts_are_refused(tmp_path):
    a = _run(tmp_path, "a", _a)
    # the same rows, from another file: its checksum differs, so the items cannot be shown to be the same
    rows = []
    with gzip.open(SHARED_DATA / "mmlu_pro" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(line)
            if len(rows) == N:
                break
    subset = tmp_path / "mmlu_subset.jsonl"
    subset.write_text("".join(rows))
    other_data = _run(tmp_path, "b_data", _b, extra=["--data", str(subset)])
    r = cli.invoke(app, ["compare", str(a), str(other_data)])
    assert r.exit_code == 2 and "cannot be compared item by item" in r.output
    assert "mmlu_pro: data sha256" in r.output and not (other_data / "compare-a.json").exists()

    # another prompt template (a copy of the task files with one word changed): every shared item differs
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    y = tasks / "benchmarks" / "mmlu_pro.yaml"
    y.write_text(y.read_text().replace("Think step by step", "Think carefully"))
    other_prompt = _run(tmp_path, "b_prompt", _b, env={"HARNESS_TASKS_DIR": str(tasks)})
    r = cli.invoke(app, ["compare", str(a), str(other_prompt)])
    assert r.exit_code == 2
    assert f"mmlu_pro: {N} of {N} shared items were asked different prompts (prompt_sha256)" in r.output
    assert "data sha256" not in r.output

    r = cli.invoke(app, ["compare", str(a)])
    assert r.exit_code == 2 and "give two run directories" in r.output
    r = cli.invoke(app, ["compare", str(a), str(other_prompt), "--benchmarks", "gpqa_diamond"])
    assert r.exit_code == 2 and "--benchmarks: gpqa_diamond not in both runs (shared: mmlu_pro)" in r.output


@needs_shared
def test_target_comparison_is_unpaired_and_marks_an_invalid_score(tmp_path):
    ids = mmlu_ids(4)
    # two of four answers unreadable: 50% unparsed > the 10% threshold, so the score is not a valid result
    rows = [{"sample_id": sid, "response": "the answer is (" + a + ")" if i < 2 else "no idea"}
            for i, (sid, a) in enumerate(ids)]
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in rows))
    run = tmp_path / "run"
    assert cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f), "--out",
                            str(run)]).exit_code == 3
    r = cli.invoke(app, ["compare", "--results", str(run), "--target", "qwen3-235b-a22b-thinking-2507",
                         "--json", str(tmp_path / "t.json")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    c = json.loads((tmp_path / "t.json").read_text())
    assert c["paired"] is False and "not paired" in c["pairing"] and "not paired" in r.output
    assert "50.00 INVALID" in r.output and "INVALID: our score for mmlu_pro is not a valid result" in r.output
    assert c["overall"] is None  # an invalid score is not counted


@needs_shared
def test_report_with_a_baseline_shows_the_paired_comparison(tmp_path):
    a, b = _run(tmp_path, "a", _a), _run(tmp_path, "b", _b)
    for fmt in ("md", "html"):
        out = tmp_path / f"report.{fmt}"
        scheme = ["--nia-score", "50"] if fmt == "md" else ["--scheme", "none"]
        r = cli.invoke(app, ["report", str(b), "--baseline", str(a), *scheme, "--format", fmt, "--out", str(out)])
        assert r.exit_code == 0, r.output
        text = out.read_text()
        assert "Paired comparison with the baseline run" in text and "McNemar (exact)" in text
        want = f"{stats.binomtest(len(GAINED), len(GAINED) + len(LOST), 0.5).pvalue:.3g}"
        row = f"| mmlu_pro | {N} | 50.00 | 62.50 | +12.50 |" if fmt == "md" else f"<td class=\"r\">{want}</td>"
        assert row in text and want in text
        assert f"vs baseline a: mmlu_pro +12.50 (p {float(want):.2g})" in text
    # the points table and the headline carry the bootstrap CI (common: 62.5 × 0.2 = 12.5, NIA 5 fixed)
    md = (tmp_path / "report.md").read_text()
    assert "stage1 points: 17.50 / 40 (95% CI 1" in md and "| total | 17.50 | 40 |" in md.replace("**", "")
    assert "seed 20260101" in md
    r = cli.invoke(app, ["report", str(a), str(b), "--baseline", str(a), "--scheme", "none"])
    assert r.exit_code == 2 and "--baseline compares one run directory" in r.output


@needs_shared
def test_an_invalid_run_is_marked_in_the_paired_table(tmp_path):
    a = _run(tmp_path, "a", _a)
    # B answers 8 of 40 with no readable letter: 20% unparsed > the 10% threshold
    rows = [{"sample_id": sid, "response": "no idea." if i < 8 else f"the answer is ({ans})"}
            for i, (sid, ans) in enumerate(mmlu_ids(N))]
    f = tmp_path / "b.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f), "--out",
                            str(tmp_path / "b")]).exit_code == 3
    r = cli.invoke(app, ["compare", str(a), str(tmp_path / "b")], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "80.00!" in r.output and "mmlu_pro run B INVALID (!): unparsed_rate 20.0% > 10.0%" in r.output
    assert "50.00!" not in r.output  # A is valid
