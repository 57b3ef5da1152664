"""Benchmarks end to end: upstream rows (real data or schema fixtures) -> samples -> prompt/target -> score.

Real data comes from ../shared/data (MMLU-Pro, CLIcK, AIME 2025, GPQA-Diamond from the authors' encrypted zip read
in memory, KoBALT-700, HRM8K's KSM subset); KMMLU-Pro and HRM8K's other four subsets use the synthetic fixtures in
tests/fixtures, which follow the upstream schema. Crafted responses are scored as the upstream code does; each test
names the upstream file and line it follows. GPQA question and answer text never appears in this file (the authors
ask that it stay out of plain text that gets published): GPQA tests assert on ids, letters and structure only.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from harness.benchmarks import load_benchmark, mathcheck
from harness.benchmarks.base import Benchmark, Sample, Score
from harness.benchmarks.hrm8k import canonical_gold
from harness.benchmarks.kobalt import official_extract, parse_options
from harness.benchmarks.mcq import extract_choice
from harness.config import Thresholds
from harness.data import load_rows
from harness.summary import summarize_items as summarize_benchmark

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real benchmark data not found at {SHARED}")


def load(name: str, override: Path | None = None) -> tuple[Benchmark, dict[str, Sample]]:
    """The benchmark and its samples by id, loaded the way the runner does (fixtures dir or ../shared/data)."""
    bench = load_benchmark(name)
    loaded = load_rows(name, bench.spec.data, override, [] if override else [SHARED])
    bench.data_source = loaded.source  # as the runner does: GPQA reads its zip from there
    samples = bench.samples(loaded.rows)
    return bench, {s.id: s for s in samples}


def run(bench: Benchmark, sample: Sample, output: str, repeat: int = 0) -> Score:
    return bench.score(sample, bench.prompt(sample, repeat), output)


def text_of(bench: Benchmark, sample: Sample, repeat: int = 0) -> str:
    return bench.prompt(sample, repeat).messages[-1]["content"]


# ---------------------------------------------------------------- shared MCQ extraction (mcq.extract_choice)


def test_mcq_word_starting_with_a_letter_is_not_an_answer():
    assert extract_choice("Because the options overlap, I cannot decide.", 4) == (None, None)
    assert extract_choice("Because of the symmetry argument above,\nAnswer: C", 4) == ("C", "marker")
    assert extract_choice("Because the answer is B", 4) == ("B", "answer_is")


def test_mcq_lowercase_article_after_answer_is_is_not_a_letter():
    # "answer is" ignores case, the letter does not: "a prime" is not option A
    assert extract_choice("So the answer is a prime number.", 4) == (None, None)
    assert extract_choice("So The Answer Is (C).", 4) == ("C", "answer_is")


def test_mcq_last_marker_wins_over_letters_mentioned_earlier():
    out = "A is wrong because of X. B fails too. C looks right at first.\nAnswer: A\nWait, re-checking C...\nAnswer: D"
    assert extract_choice(out, 4) == ("D", "marker")
    assert extract_choice("정답은 B라고 생각했지만 다시 보니\n정답: C", 4) == ("C", "marker")


def test_mcq_letters_outside_the_option_range_are_rejected():
    assert extract_choice("Answer: E", 4) == (None, None)
    assert extract_choice("Answer: E", 5) == ("E", "marker")
    assert extract_choice("정답: F", 5) == (None, None)
    assert extract_choice("\\boxed{K}", 10) == (None, None)


def test_mcq_dollar_wrapped_letter():
    assert extract_choice("Answer: $C$", 4) == ("C", "marker")
    assert extract_choice("Answer: $\\boxed{B}$", 4) == ("B", "boxed")


def test_mcq_empty_output():
    assert extract_choice("", 4) == (None, None)


# ---------------------------------------------------------------- MMLU-Pro (real rows)


@pytest.fixture(scope="module")
def mmlu_pro():
    return load("mmlu_pro")


@needs_shared
def test_mmlu_pro_rows_and_prompt(mmlu_pro):
    bench, samples = mmlu_pro
    assert len(samples) == 12030
    s = samples["71"]  # "Managers are entrusted to run the company ...", gold F
    p = bench.prompt(s, 0)
    assert p.target == "F"
    assert "about business" in p.messages[0]["content"]
    assert "\nF. Shareholders, Care and Skill, Diligence\n" in p.messages[0]["content"]
    assert p.messages[0]["content"].endswith("Answer: Let's think step by step.")


@needs_shared
@pytest.mark.parametrize(
    "output, extracted, rule, value",
    [
        # long trace that names several letters, then the official phrase
        ("Option A puts self-interest first, which is not a duty. Option B and option J also list self-interest "
         "or the wrong party. Between E and F, managers act for shareholders, with duties of care and skill and "
         "of diligence. The answer is (F).", "F", "answer_is", 1.0),
        # stage 1 takes the FIRST "answer is", as the official re.search does
        ("The answer is (B). Hmm, re-reading the question, the answer is (F).", "B", "answer_is", 0.0),
        # stage 2: "Answer: X" only
        ("Answer: D", "D", "answer_colon", 0.0),
        ("Answer: F", "F", "answer_colon", 1.0),
        # stage 3: no pattern, the last standalone capital A-J
        ("Managers owe duties to shareholders, so option F fits best.", "F", "last_letter", 1.0),
        # ... which in the official script includes the pronoun "I" (a letter in A-J)
        ("F, I believe.", "I", "last_letter", 0.0),
        # truncated in the middle of the reasoning: the last letter mentioned is taken
        ("Let's think step by step. Managers have fiduciary duties. Comparing options B and F, the duty of care "
         "and skill appears in both, but B lists self-interest, which", "B", "last_letter", 0.0),
        # nothing at all: unparsed, scored 0 (the official script would guess)
        ("", None, None, 0.0),
        ("no idea", None, None, 0.0),
        # evaluate_from_api.py line 236 removes every "**" before the regexes (lines 189-213): bold answers read
        ("The answer is **(B)**\n\nI hope this helps.", "B", "answer_is", 0.0),
        ("Managers act for shareholders.\n\n**The answer is (F)**", "F", "answer_is", 1.0),
        ("The answer is **F**.", "F", "answer_is", 1.0),
        ("**Answer:** F", "F", "answer_colon", 1.0),
    ],
)
def test_mmlu_pro_official_cascade(mmlu_pro, output, extracted, rule, value):
    bench, samples = mmlu_pro
    sc = run(bench, samples["71"], output)
    assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value)


@needs_shared
def test_mmlu_pro_bold_answers_on_real_rows_read_as_the_official_script(mmlu_pro):
    """20 real rows, each answered in bold with its gold letter and a closing line: the official script strips "**"
    (evaluate_from_api.py line 236), so every one reads the gold letter; without the strip, stage 1 fails and stage 3
    reads the "I" of "I hope this helps"."""
    bench, samples = mmlu_pro
    first = list(samples.values())[:20]
    for s in first:
        gold = s.row["answer"]
        out = f"Let me weigh the options.\n\nThe answer is **({gold})**\n\nI hope this helps."
        sc = run(bench, s, out)
        assert (sc.extracted, sc.details["rule"], sc.value) == (gold, "answer_is", 1.0), s.id
    assert sum(gold == "I" for gold in (s.row["answer"] for s in first)) < 20  # the old reading ("I") was not right


@needs_shared
def test_mmlu_pro_letter_beyond_the_options_is_flagged(mmlu_pro):
    bench, samples = mmlu_pro
    s = samples["70"]  # 9 options A-I, gold I
    assert len(s.row["options"]) == 9
    sc = run(bench, s, "The answer is (J).")
    assert (sc.extracted, sc.details["rule"], sc.value) == ("J", "answer_is:out_of_range", 0.0)
    assert run(bench, s, "The answer is (I).").value == 1.0


# ---------------------------------------------------------------- CLIcK (real rows)


@pytest.fixture(scope="module")
def click():
    return load("click")


@needs_shared
def test_click_answer_text_maps_to_letter(click):
    bench, samples = click
    assert bench.prompt(samples["KIIP_economy_1"], 0).target == "C"  # 2001년 in [1999년, 2000년, 2001년, 2002년]
    assert bench.prompt(samples["KIIP_economy_2"], 0).target == "A"  # 79달러
    assert bench.prompt(samples["KIIP_economy_3"], 0).target == "C"  # 1997년
    five = samples["CSAT_geography_06_2"]  # 5 options, gold ㄷㄹ (the fifth)
    assert bench.prompt(five, 0).target == "E"
    assert "A, B, C, D, E 중 하나" in text_of(bench, five)
    assert "\nE. ㄷㄹ" in text_of(bench, five)


@needs_shared
def test_click_duplicate_ids_are_kept_apart(click):
    _, samples = click
    assert len(samples) == 1995
    assert "CSAT_korean_13_11" not in samples
    assert samples["CSAT_korean_13_11@Grammar_CSAT"].row["source_file"] == "Grammar_CSAT.json"
    assert samples["CSAT_korean_13_11@Functional_CSAT"].row["source_file"] == "Functional_CSAT.json"
    assert sum(1 for sid in samples if "@" in sid) == 16
    assert samples["KIIP_economy_1"].category == "Culture"


@needs_shared
@pytest.mark.parametrize(
    "output, extracted, rule, value",
    [
        ("풀이: 1997년 외환위기 이후 2001년 8월에 IMF 차입금을 모두 상환했다.\n정답: C", "C", "marker", 1.0),
        ("보기를 하나씩 검토하면 B는 너무 이르다. 정답은 (C)입니다.", "C", "marker", 1.0),
        ("**정답: A**", "A", "marker", 0.0),
        ("외환위기는 IMF 차입금을 모두 갚은 해에 완전히 극복되었다.\n2001년", "C", "option", 1.0),
        ("정답: 2001년", "C", "option", 1.0),
        ("잘 모르겠습니다.", None, None, 0.0),
    ],
)
def test_click_korean_outputs(click, output, extracted, rule, value):
    bench, samples = click
    sc = run(bench, samples["KIIP_economy_1"], output)
    assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value)


# ---------------------------------------------------------------- AIME 2025 (real rows)


@pytest.fixture(scope="module")
def aime():
    return load("aime2025")


@needs_shared
def test_aime_rows(aime):
    bench, samples = aime
    assert len(samples) == 30
    assert bench.prompt(samples["0"], 0).target == "70"
    assert bench.prompt(samples["1"], 0).target == "588"
    assert (samples["14"].category, samples["15"].category) == ("I", "II")
    assert "\\boxed{}" in text_of(bench, samples["0"])


@needs_shared
@pytest.mark.parametrize(
    "sid, output, extracted, value",
    [
        ("0", "The bases are 21 and 49, summing to \\boxed{070}.", "070", 1.0),  # leading zero, same integer
        # NeMo-Skills math_grader.py search_boxed (lines 117-160): rfind("\\boxed"), so the LAST box decides
        ("0", "Either \\boxed{70} or \\boxed{49}.", "49", 0.0),
        ("0", "First I got \\boxed{49}, but b=49 gives base 56 > 49 only once; recounting, \\boxed{70}.", "70", 1.0),
        ("0", "\\boxed{\\text{70}}", "\\text{70}", 1.0),
        # extract_answer(extract_from_boxed=True) (lines 95-111): no box, no answer, whatever the text says
        ("1", "Shoelace on the reflected points gives 588.\nThe final answer is 588", None, 0.0),
        ("0", "b+7 divides 56, so b is 21 or 49. Their sum is 21 + 49 = 70", None, 0.0),
        ("0", "I could not finish this problem.", None, 0.0),
    ],
)
def test_aime_scoring(aime, sid, output, extracted, value):
    bench, samples = aime
    sc = run(bench, samples[sid], output)
    assert (sc.extracted, sc.value) == (extracted, value)


@needs_shared
def test_aime_lenient_reading_is_a_metric_beside_the_score(aime):
    bench, samples = aime
    outs = {"0": "Their sum is 21 + 49 = 70", "1": "\\boxed{588}", "2": "\\boxed{16} or maybe \\boxed{17}"}
    recs = []
    for sid, out in outs.items():
        sc = run(bench, samples[sid], out)
        recs.append({"sample_id": sid, "repeat": 0, "score": sc.value, "details": sc.details, "error": None})
    assert [r["score"] for r in recs] == [0.0, 1.0, 0.0]  # no box; right box; last box 17 (gold 16)
    assert [r["details"]["lenient_correct"] for r in recs] == [True, True, False]  # math-verify: set {16, 17}
    assert bench.metrics(recs) == {"score_lenient": pytest.approx(100 * 2 / 3, abs=1e-3)}


# ---------------------------------------------------------------- GPQA-Diamond (real: the authors' zip, in memory)


@pytest.fixture(scope="module")
def gpqa():
    return load("gpqa_diamond")


def shown_options(prompt_text: str) -> dict[str, str]:
    return dict(re.findall(r"(?m)^([A-D])\) (.*)$", prompt_text))


@needs_shared
def test_gpqa_rows_from_the_encrypted_zip(gpqa, tmp_path):
    bench, samples = gpqa
    assert len(samples) == 198
    assert all(sid.startswith("rec") for sid in samples)
    cats = [s.category for s in samples.values()]
    assert (cats.count("Chemistry"), cats.count("Physics"), cats.count("Biology")) == (93, 86, 19)
    assert bench.spec.data.local == "gpqa" and bench.spec.options["zip_member"] == "dataset/gpqa_diamond.csv"
    assert not list((SHARED / "gpqa").glob("*.csv")) and not list((SHARED / "gpqa").rglob("dataset"))  # not unpacked
    text = text_of(bench, next(iter(samples.values())))
    assert text.startswith("Answer the following multiple choice question. The last line of your response should "
                           "be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
                           "ABCD. Think step by step before answering.\n\n")  # simple-evals common.py lines 15-24
    assert sorted(shown_options(text)) == ["A", "B", "C", "D"]
    assert bench.spec.repeats == 4  # simple-evals gpqa_eval.py n_repeats=4


@needs_shared
def test_gpqa_permutation_is_stable_per_sample_and_repeat(gpqa):
    bench, samples = gpqa
    again, _ = load("gpqa_diamond")
    for s in list(samples.values())[:20]:
        for rep in range(4):
            a, b = bench.prompt(s, rep), again.prompt(s, rep)
            assert a.meta["order"] == b.meta["order"]
            assert a.messages == b.messages and a.target == b.target


@needs_shared
def test_gpqa_target_points_at_the_correct_text(gpqa):
    bench, samples = gpqa
    orders, targets = set(), set()
    for s in samples.values():
        for rep in range(4):
            p = bench.prompt(s, rep)
            shown = shown_options(p.messages[0]["content"])
            if "\n" not in s.row["Correct Answer"].strip():  # a multi-line option does not fit the line regex
                assert shown[p.target] == s.row["Correct Answer"].strip()
            assert p.meta["order"]["ABCD".index(p.target)] == 0
            orders.add(tuple(p.meta["order"]))
            targets.add(p.target)
    assert len(orders) == 24 and targets == set("ABCD")  # every permutation occurs; the gold moves


@needs_shared
def test_gpqa_official_simple_evals_rule(gpqa):
    """simple-evals gpqa_eval.py lines 59-61: `re.search(ANSWER_PATTERN_MULTICHOICE, response_text)`, the FIRST
    match, compared as is; ANSWER_PATTERN_MULTICHOICE = r"(?i)Answer[ \\t]*:[ \\t]*\\$?([A-D])\\$?" (common.py
    line 26)."""
    bench, samples = gpqa
    s = next(iter(samples.values()))
    p = bench.prompt(s, 2)
    t = p.target
    w = next(k for k in "ABCD" if k != t)
    cases = [  # output, official extraction, score, lenient extraction
        (f"Working it out step by step.\n\nAnswer: {t}", t, 1.0, t),
        (f"Answer: ${t}$", t, 1.0, t),
        (f"Final answer:{t}", t, 1.0, t),
        (f"Answer: {w}", w, 0.0, w),
        # the first match wins: a draft answer early in the text decides (the lenient cascade takes the last)
        (f"Answer: {w} would be my first guess, but no.\nAnswer: {t}", w, 0.0, t),
        # case-blind pattern, case-sensitive comparison: a lowercase letter is extracted and scored wrong
        (f"answer: {t.lower()}", t.lower(), 0.0, None),
        # no "Answer:" in the pattern's form: nothing extracted, 0 (the lenient cascade reads these)
        (f"**Answer:** {t}", None, 0.0, t),
        (f"The answer is ({t}).", None, 0.0, t),
        (f"\\boxed{{{t}}}", None, 0.0, t),
        (f"Answer:\n{t}", None, 0.0, t),  # [ \t]* does not cross the line break
        ("Answer: E", None, 0.0, None),  # out of A-D
    ]
    for output, extracted, value, lenient in cases:
        sc = bench.score(s, p, output)
        assert (sc.extracted, sc.value, sc.details["lenient"]) == (extracted, value, lenient), output
        assert sc.details["lenient_correct"] == (lenient == t)


@needs_shared
def test_gpqa_lenient_metric(gpqa):
    bench, samples = gpqa
    recs = []
    for i, s in enumerate(list(samples.values())[:4]):
        p = bench.prompt(s, 0)
        out = f"Answer: {p.target}" if i < 2 else f"The answer is ({p.target})."
        sc = bench.score(s, p, out)
        recs.append({"sample_id": s.id, "repeat": 0, "score": sc.value, "details": sc.details, "error": None})
    assert [r["score"] for r in recs] == [1.0, 1.0, 0.0, 0.0]
    assert bench.metrics(recs) == {"score_lenient": 100.0}


def test_gpqa_directory_of_plain_csvs_uses_only_the_diamond_file(tmp_path):
    """The gated hub repository holds gpqa_diamond.csv beside gpqa_main.csv etc.; a data directory laid out that way
    contributes only the diamond file. Invented rows, in the upstream columns."""
    cols = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
            "Record ID", "High-level domain", "Subdomain"]
    d = tmp_path / "gpqa"
    d.mkdir()
    for name, ids in (("gpqa_diamond.csv", ["recDIAMOND1"]), ("gpqa_main.csv", ["recMAIN1", "recMAIN2"])):
        with open(d / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i in ids:
                w.writerow([f"What is 1 + {i[-1]}?", "right", "wrong 1", "wrong 2", "wrong 3", i, "Physics", "x"])
    bench = load_benchmark("gpqa_diamond")
    loaded = load_rows("gpqa_diamond", bench.spec.data, None, [tmp_path])
    bench.data_source = loaded.source
    assert [s.id for s in bench.samples(loaded.rows)] == ["recDIAMOND1"]


# ---------------------------------------------------------------- KMMLU-Pro (fixture)


@pytest.fixture(scope="module")
def kmmlu():
    return load("kmmlu_pro", FIXTURES)


def test_kmmlu_pro_rows(kmmlu):
    bench, samples = kmmlu
    assert list(samples) == ["0", "1", "2", "3", "4", "5"]  # 0-based row index: upstream has no id column
    assert [bench.prompt(s, 0).target for s in samples.values()] == ["C", "A", "B", "C", "C", "B"]
    assert [s.category for s in samples.values()] == ["변호사", "법무사", "공인회계사", "세무사", "의사", "공인노무사"]
    text = text_of(bench, samples["0"])
    assert "변호사 시험의 공법 문제" in text and "\nC. 4년\nD. 5년\nE. 6년" in text and "A, B, C, D, E 중 하나" in text
    assert "A, B, C, D 중 하나" in text_of(bench, samples["4"])  # the 4-option item


@pytest.mark.parametrize(
    "sid, output, extracted, rule, value",
    [
        ("0", "헌법 제42조에 따라 국회의원의 임기는 4년이다.\n정답: C", "C", "marker", 1.0),
        ("0", "대통령 임기는 5년이므로 D를 고를 수 있지만, 국회의원은 4년이다.\n\n**정답: C**", "C", "marker", 1.0),
        ("2", "매출총이익 = 1,000 - 600 = 400원\n따라서 정답은 B입니다.", "B", "marker", 1.0),
        ("2", "매출총이익 = 매출액 - 매출원가\n600원", "C", "option", 0.0),
        ("4", "정상 체온은 약 37도이다.\n정답: E", None, None, 0.0),  # E does not exist in a 4-option item
        ("4", "정상 체온은 36.5도 안팎이다.\n약 37도", "C", "option", 1.0),
    ],
)
def test_kmmlu_pro_scoring(kmmlu, sid, output, extracted, rule, value):
    bench, samples = kmmlu
    sc = run(bench, samples[sid], output)
    assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value)


def test_kmmlu_pro_bad_solution_is_rejected(kmmlu):
    bench, _ = kmmlu
    with pytest.raises(ValueError, match="does not index"):
        bench.samples([{"question": "q", "options": ["a", "b", "c", "d"], "solution": "5", "license_name": "x"}])


# ---------------------------------------------------------------- KoBALT (real rows: data/train.jsonl, a JSON array)

KOBALT_DIALOGUE = "67c81c5d361c7932636b7bb9"  # Syntax, gold F; its passage holds "(A: 먹고 있다)" before the options
KOBALT_FIRST = "67ce909c0b81d8ffa89e4fbb"  # Semantics, gold H


@pytest.fixture(scope="module")
def kobalt():
    return load("kobalt")


@needs_shared
def test_kobalt_real_rows_and_official_prompt(kobalt):
    bench, samples = kobalt
    assert len(samples) == 700
    cats = [s.category for s in samples.values()]
    assert {c: cats.count(c) for c in set(cats)} == {"Syntax": 300, "Semantics": 215, "Pragmatics": 81,
                                                     "Phonetics/Phonology": 62, "Morphology": 42}
    s = samples[KOBALT_FIRST]
    p = bench.prompt(s, 0)
    assert p.target == "H" and s.category == "Semantics"
    # snunlp/KoBALT-700 data/inference.md lines 20-35: system and user prompt
    assert p.messages[0] == {"role": "system", "content": "당신은 문제를 해결하는 전문가입니다."}
    user_text = p.messages[1]["content"]
    assert user_text.startswith("다음 문제에 대해서 충분히 생각하고 추론하여, 10개의 보기(A, B, C, D, E, F, G, H, I, J) "
                                "중 정답을 고르세요.\n\n지문:\n")
    assert user_text.endswith("\n\n답변은 반드시 다음 형식을 엄격히 지켜야 합니다: \"정답은 [정답 보기]입니다.\"로 끝나야하고, "
                              "[정답 보기]는 A, B, C, D, E, F, G, H, I, J 중 하나여야 합니다.정답: 문제를 풀기 위해, "
                              "한 번 천천히 생각해봅시다.")
    assert parse_options(samples[KOBALT_DIALOGUE].row["Question"])[5].startswith("A - (현재/진행)")


@needs_shared
@pytest.mark.parametrize(
    "output, extracted, value, lenient",
    [
        # data/inference.md extract_answer (lines 64-81) and `is_correct: ground_truth == predicted_answer`
        ("시간 표현의 양상을 따져 보면 F가 맞다. 따라서 정답은 F입니다.", "F", 1.0, "F"),
        ("정답은 **F**입니다.", "F", 1.0, "F"),
        ("정답은 (F) 입니다.", "F", 1.0, "F"),
        ("처음엔 정답은 C입니다라고 생각했지만, 다시 보니 정답은 F입니다.", "C, F", 0.0, "C, F"),  # every match
        ("정답은 B 또는 F입니다.", "B, F", 0.0, "B, F"),  # two letters: wrong
        # no `정답은 X입니다`: upstream extracts None and scores it wrong; the lenient cascade reads these
        ("F", None, 0.0, "F"),
        ("정답: F", None, 0.0, "F"),
        ("Answer: F", None, 0.0, "F"),
        ("\\boxed{F}", None, 0.0, "F"),
        ("정답은 F.", None, 0.0, "F"),
        ("잘 모르겠다.", None, 0.0, None),
    ],
)
def test_kobalt_official_rule_on_a_real_row(kobalt, output, extracted, value, lenient):
    bench, samples = kobalt
    sc = run(bench, samples[KOBALT_DIALOGUE], output)
    assert (sc.extracted, sc.value, sc.details["lenient"]) == (extracted, value, lenient)
    assert sc.details["rule"] == ("official" if extracted else None)


@needs_shared
def test_kobalt_lenient_metric_beside_the_official_score(kobalt):
    bench, samples = kobalt
    ids = list(samples)[:4]
    outs = ["정답은 {}입니다.", "{}", "정답: {}", "정답은 A, B입니다."]
    recs = []
    for sid, out in zip(ids, outs):
        s = samples[sid]
        sc = run(bench, s, out.format(s.row["Answer"]))
        recs.append({"sample_id": sid, "repeat": 0, "score": sc.value, "details": sc.details, "error": None})
    assert [r["score"] for r in recs] == [1.0, 0.0, 0.0, 0.0]
    assert bench.metrics(recs) == {"score_lenient": 75.0}
    recs.append({"sample_id": ids[0], "repeat": 1, "score": None, "details": None, "error": "engine: timeout"})
    assert bench.metrics(recs) == {"score_lenient": 75.0}  # errors are not scored


def test_kobalt_official_rule_and_option_parsing():
    assert official_extract("정답은 C입니다. ... 다시 말해 정답은 C입니다.") == "C"
    assert official_extract("정답은 없습니다") == ""
    # a pragmatics passage with speaker lines "A: ..." must not be taken for the options
    q = "지문:\nA: 창문 좀 열어 줄래?\nB: 응.\n\n문제: A의 발화 의도는?\n\n" + "".join(
        f"{c}: 보기{i}\n" for i, c in enumerate("ABCDEFGHIJ"))
    assert parse_options(q) == [f"보기{i}" for i in range(10)]


@needs_shared
def test_kobalt_loads_both_upstream_spellings(kobalt):
    """Fields as of f7b7d44 (ID, Class, Question, Answer) and as the scripts read them at 732f4e0 (ID, 대분류,
    question, answer)."""
    bench, samples = kobalt
    s = samples[KOBALT_FIRST]
    old = {"ID": s.row["ID"], "대분류": "의미론", "소분류": "x", "question": s.row["Question"], "answer": "H", "난이도": 2,
           "sampling_YN": 0}
    got = bench.samples([old])[0]
    assert (got.id, got.category) == (KOBALT_FIRST, "의미론")
    assert bench.prompt(got, 0).messages == bench.prompt(s, 0).messages and bench.prompt(got, 0).target == "H"


# ---------------------------------------------------------------- HRM8K (fixture directory, one file per subset)


@pytest.fixture(scope="module")
def hrm8k():
    return load("hrm8k", FIXTURES)


def test_hrm8k_subsets_ids_and_targets(hrm8k):
    bench, samples = hrm8k
    assert sorted(samples) == sorted(f"{sub}/{i}" for sub in ("GSM8K", "MATH", "OMNI_MATH", "MMMLU", "KSM")
                                     for i in (0, 1))
    assert {sid: s.category for sid, s in samples.items()}["OMNI_MATH/1"] == "OMNI_MATH"
    targets = {sid: bench.prompt(s, 0).target for sid, s in samples.items()}
    assert targets["GSM8K/0"] == "8"  # upstream "8.0"
    assert targets["GSM8K/1"] == "4800"  # upstream "4800.0"
    assert targets["KSM/1"] == "\\frac{5}{6}"
    assert targets["MMMLU/0"] == "3"
    assert "최종 답을 \\boxed{} 안에 쓰시오" in text_of(bench, samples["GSM8K/0"])
    mmmlu = text_of(bench, samples["MMMLU/0"])
    assert "보기의 번호(1, 2, 3, 4 중 하나)를 \\boxed{}" in mmmlu and "\n3. 7\n" in mmmlu


def test_hrm8k_upstream_file_names_and_float_answers():
    bench = load_benchmark("hrm8k")
    rows = [{"question": "q", "answer": 18.0, "original": "q", "_file": "gsm8k_test.csv"},
            {"question": "q", "answer": "2", "original": "q", "_file": "omni-math_do_test.csv"}]
    got = bench.samples(rows)
    assert [(s.id, s.category) for s in got] == [("GSM8K/0", "GSM8K"), ("OMNI_MATH/0", "OMNI_MATH")]
    assert bench.prompt(got[0], 0).target == "18"
    assert canonical_gold("70,000.0") == "70000" and canonical_gold("0.5") == "0.5" and canonical_gold(" 7 ") == "7"
    with pytest.raises(ValueError, match="unknown subset"):
        bench.samples([{"question": "q", "answer": "1", "_file": "notes.jsonl"}])


@pytest.mark.parametrize(
    "sid, output, value",
    [
        ("GSM8K/0", "처음 3개에 5개를 더 받았으므로 3 + 5 = 8.\n\n\\boxed{8}", 1.0),
        ("GSM8K/0", "3 + 5 = 8개이다. 따라서 답은 \\boxed{8개}", 1.0),  # Korean unit inside the box
        ("GSM8K/0", "3 × 5 = 15이므로 \\boxed{15}", 0.0),
        ("GSM8K/1", "1,200 × 4 = 4,800원\n\\boxed{4,800}", 1.0),
        ("GSM8K/1", "연필 4자루의 가격은 \\boxed{4800원}입니다.", 1.0),
        ("MATH/0", "$2x = 8$이므로 \\boxed{x=4}", 1.0),
        ("KSM/1", "통분하면 3/6 + 2/6 = 5/6\n\\boxed{\\dfrac{5}{6}}", 1.0),
        ("OMNI_MATH/0", "5! = 120\n최종 답: 120", 1.0),
        ("MMMLU/0", "4, 6, 9는 합성수이고 7만 소수이다. \\boxed{3}", 1.0),
        ("MMMLU/0", "소수는 7이다. \\boxed{7}", 0.0),  # the option text instead of its number
        ("MMMLU/1", "덧셈의 항등원은 0이므로 1번.\n\\boxed{1}", 1.0),
    ],
)
def test_hrm8k_scoring(hrm8k, sid, output, value):
    bench, samples = hrm8k
    assert run(bench, samples[sid], output).value == value


def test_hrm8k_no_answer_is_unparsed(hrm8k):
    bench, samples = hrm8k
    sc = run(bench, samples["GSM8K/0"], "잘 모르겠습니다.")
    assert (sc.extracted, sc.value) == (None, 0.0)


def test_mathcheck_integer_float_and_boxed():
    assert mathcheck.check("\\boxed{3}", "3.0").value == 1.0
    assert mathcheck.check("\\boxed{18}", "18.0").value == 1.0
    assert mathcheck.check("\\boxed{3}", "4.0").value == 0.0


def test_hrm8k_score_is_micro_average_with_subset_categories(hrm8k):
    bench, samples = hrm8k
    assert "micro" in bench.spec.metric
    right = {"GSM8K/0", "MATH/0", "MATH/1", "MMMLU/1", "OMNI_MATH/0", "OMNI_MATH/1"}
    used = [s for sid, s in samples.items() if sid != "GSM8K/1"]  # subsets of unequal size: 1, 2, 2, 2, 2
    recs = [{"sample_id": s.id, "repeat": 0, "category": s.category, "score": float(s.id in right),
             "extracted": "x", "error": None, "finish_reason": "stop"} for s in used]
    out = summarize_benchmark(recs, len(recs), 1, Thresholds())
    assert out["score"] == pytest.approx(100 * 6 / 9, abs=1e-3)  # micro; the mean of subset scores would be 70
    assert out["categories"] == {"GSM8K": 100.0, "KSM": 0.0, "MATH": 100.0, "MMMLU": 50.0, "OMNI_MATH": 100.0}


@pytest.fixture(scope="module")
def ksm():
    return load("hrm8k")  # ../shared/data/hrm8k holds only the upstream ksm_test.csv


@needs_shared
def test_hrm8k_ksm_real_rows(ksm):
    bench, samples = ksm
    assert len(samples) == 1428 and set(samples) == {f"KSM/{i}" for i in range(1428)}
    assert {s.category for s in samples.values()} == {"KSM"}
    targets = [bench.prompt(samples[f"KSM/{i}"], 0).target for i in range(4)]
    assert targets == ["\\frac{1}{6}", "8\\pi", "81", "\\frac{x-3}{4}"]
    assert "최종 답을 \\boxed{} 안에 쓰시오" in text_of(bench, samples["KSM/0"])


@needs_shared
@pytest.mark.parametrize(
    "sid, output, value, extracted, lmeval",
    [
        # lm-eval 0.4.13 is_equiv runs parse_math_answer on the GOLD too: a gold without a box becomes its last
        # number ("\\frac{1}{6}" -> "6", "8\\pi" -> "8"), so lm-eval marks the right LaTeX answer wrong...
        ("KSM/0", "확률은 1/6이다.\n\\boxed{\\frac{1}{6}}", 1.0, "\\frac{1}{6}", False),
        ("KSM/0", "\\boxed{\\dfrac{1}{6}}", 1.0, "\\frac{1}{6}", False),
        # ... and a bare denominator right; the score (math-verify on the last box) does not follow it there
        ("KSM/0", "\\boxed{6}", 0.0, "6", True),
        ("KSM/2", "\\boxed{81}", 1.0, "81", True),
        ("KSM/2", "\\boxed{81.0}", 1.0, "81.0", True),  # lm-eval postprocess: integral floats as integers
        # lm-eval utils.py parse_math_answer: last_boxed_only_string = rfind("\\boxed"), so the LAST box decides
        ("KSM/2", "처음엔 \\boxed{27}라고 했지만 다시 계산하면 \\boxed{81}", 1.0, "81", True),
        ("KSM/2", "\\boxed{81}인지 \\boxed{27}인지 모르겠다", 0.0, "27", False),
        ("KSM/1", "\\boxed{8\\pi}", 1.0, "8\\pi", False),
        ("KSM/1", "\\boxed{V=8\\pi}", 1.0, "V=8\\pi", False),
        # symbolic equivalence (math-verify) where lm-eval's string equality says no: the diagnostic shows it
        ("KSM/3", "\\boxed{\\frac{x}{4}-\\frac{3}{4}}", 1.0, "\\frac{x}{4}-\\frac{3}{4}", False),
        ("KSM/2", "\\boxed{81개}", 1.0, "81", False),  # a Korean unit after the number
        # no box: math-verify reads the last expression (lm-eval: the last number)
        ("KSM/2", "따라서 답은 81", 1.0, "81", True),
        ("KSM/2", "모르겠다", 0.0, None, False),
    ],
)
def test_hrm8k_ksm_last_box_decides(ksm, sid, output, value, extracted, lmeval):
    bench, samples = ksm
    sc = run(bench, samples[sid], output)
    assert (sc.value, sc.extracted, sc.details["lmeval_correct"]) == (value, extracted, lmeval)


@needs_shared
def test_hrm8k_lmeval_verdict_is_lm_evals_own(ksm):
    """details.lmeval_correct is lm-eval's process_results on the raw answer (lm_eval/tasks/hrm8k/default/utils.py)."""
    from lm_eval.tasks.hrm8k.default import utils

    bench, samples = ksm
    outs = ["\\boxed{\\frac{1}{6}}", "\\boxed{1/6}", "\\boxed{0.1667}", "$x = \\frac{1}{6}$", "1/6"]
    recs = []
    for out in outs:
        s = samples["KSM/0"]
        sc = run(bench, s, out)
        assert sc.details["lmeval_correct"] == bool(utils.process_results(s.row, [out])["exact_match"]), out
        recs.append({"sample_id": s.id + out, "repeat": 0, "score": sc.value, "details": sc.details, "error": None})
    m = bench.metrics(recs)
    assert m["score_lmeval"] == round(100 * sum(r["details"]["lmeval_correct"] for r in recs) / len(recs), 4)


# ---------------------------------------------------------------- YAML specs


@pytest.mark.parametrize("name", ["mmlu_pro", "click", "aime2025", "gpqa_diamond", "kmmlu_pro", "kobalt", "hrm8k"])
def test_spec_generation_defaults(name):
    spec = load_benchmark(name).spec
    assert spec.name == name
    assert (spec.generation.temperature, spec.generation.top_p) == (0.6, 0.95)
    assert spec.generation.max_tokens in (16384, 32768)


@needs_shared
def test_gpqa_zip_member_has_the_upstream_header():
    """The authors' CSV, read from the encrypted zip in memory: 78 columns in the documented order."""
    from harness.benchmarks.gpqa import read_zip

    rows = read_zip(SHARED / "gpqa" / "dataset.zip", "dataset/gpqa_diamond.csv", "deserted-untie-orchid")
    header = list(rows[0])
    assert len(rows) == 198 and len(header) == 78
    assert header.index("Record ID") < header.index("High-level domain") and header[-1] == "Canary String"
