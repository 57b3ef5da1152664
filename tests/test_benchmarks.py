"""Benchmarks end to end: upstream rows (real data or schema fixtures) -> samples -> prompt/target -> score.

Real data comes from ../shared/data (MMLU-Pro, CLIcK, AIME 2025); GPQA, KMMLU-Pro, KoBALT and HRM8K use the
synthetic fixtures in tests/fixtures, which follow the upstream schema.
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
    ],
)
def test_mmlu_pro_official_cascade(mmlu_pro, output, extracted, rule, value):
    bench, samples = mmlu_pro
    sc = run(bench, samples["71"], output)
    assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value)


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
        ("0", "Either \\boxed{70} or \\boxed{49}.", "70,49", 0.0),  # two different boxed answers: a set, wrong
        ("1", "Shoelace on the reflected points gives 588.\nThe final answer is 588", "588", 1.0),
        # no box and no think block: the last number in the text
        ("0", "b+7 divides 56, so b is 21 or 49. Their sum is 21 + 49 = 70", "70", 1.0),
        ("0", "I could not finish this problem.", None, 0.0),
    ],
)
def test_aime_scoring(aime, sid, output, extracted, value):
    bench, samples = aime
    sc = run(bench, samples[sid], output)
    assert (sc.extracted, sc.value) == (extracted, value)


# ---------------------------------------------------------------- GPQA-Diamond (fixture, upstream CSV schema)


@pytest.fixture(scope="module")
def gpqa():
    return load("gpqa_diamond", FIXTURES)


def shown_options(prompt_text: str) -> dict[str, str]:
    return dict(re.findall(r"(?m)^([A-D])\) (.*)$", prompt_text))


def test_gpqa_rows_and_prompt(gpqa):
    bench, samples = gpqa
    assert list(samples) == [f"recSYNTHETIC0000{i}" for i in range(1, 6)]
    assert [s.category for s in samples.values()] == ["Physics", "Chemistry", "Biology", "Physics", "Chemistry"]
    text = text_of(bench, samples["recSYNTHETIC00004"])
    assert text.startswith("Answer the following multiple choice question. The last line of your response should "
                           "be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of "
                           "ABCD. Think step by step before answering.\n\nA 12 V battery drives current")
    assert "\nWhat current flows?\n\nA) " in text  # the embedded newline survives the CSV round trip
    assert set(shown_options(text).values()) == {"3 A", "48 A", "0.33 A", "16 A"}
    assert bench.spec.data.revision == "633f5ee89ab8ad4522a9f850766b73f62147ffdd"
    assert bench.spec.repeats == 4


def test_gpqa_permutation_is_stable_per_sample_and_repeat(gpqa):
    bench, samples = gpqa
    again, _ = load("gpqa_diamond", FIXTURES)
    for s in samples.values():
        for rep in range(4):
            a, b = bench.prompt(s, rep), again.prompt(s, rep)
            assert a.meta["order"] == b.meta["order"]
            assert a.messages == b.messages and a.target == b.target


def test_gpqa_repeats_shuffle_differently(gpqa):
    bench, samples = gpqa
    orders = [tuple(bench.prompt(s, rep).meta["order"]) for s in samples.values() for rep in range(4)]
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
    assert len(set(orders)) > 1
    targets = {bench.prompt(s, rep).target for s in samples.values() for rep in range(4)}
    assert len(targets) > 1  # the correct answer does not always sit at the same letter


def test_gpqa_target_points_at_the_correct_text(gpqa):
    bench, samples = gpqa
    for s in samples.values():
        for rep in range(4):
            p = bench.prompt(s, rep)
            shown = shown_options(p.messages[0]["content"])
            assert shown[p.target] == s.row["Correct Answer"].strip()
            assert p.meta["order"]["ABCD".index(p.target)] == 0
            wrong = {s.row[f"Incorrect Answer {i}"].strip() for i in (1, 2, 3)}
            assert {t for k, t in shown.items() if k != p.target} == wrong


def test_gpqa_scoring(gpqa):
    bench, samples = gpqa
    s = samples["recSYNTHETIC00001"]  # kinetic energy, correct "9.0 J"
    p = bench.prompt(s, 2)
    wrong = next(k for k in "ABCD" if k != p.target)
    cases = [
        (f"KE = 1/2 m v^2 = 0.5 * 2.0 * 9 = 9 J. Options {wrong} and {p.target} differ.\n\nAnswer: {p.target}",
         p.target, "marker", 1.0),
        (f"Answer: ${p.target}$", p.target, "marker", 1.0),
        (f"Answer: {wrong}", wrong, "marker", 0.0),
        ("KE = 1/2 m v^2.\n9.0 J", p.target, "option", 1.0),  # answered with the option text
        ("Answer: E", None, None, 0.0),  # out of range for 4 options
    ]
    for output, extracted, rule, value in cases:
        sc = bench.score(s, p, output)
        assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value), output


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


# ---------------------------------------------------------------- KoBALT (fixture)


@pytest.fixture(scope="module")
def kobalt():
    return load("kobalt", FIXTURES)


def test_kobalt_rows_and_official_prompt(kobalt):
    bench, samples = kobalt
    assert len(samples) == 6
    s = samples["000000000000000000000006"]
    p = bench.prompt(s, 0)
    assert p.target == "G" and s.category == "의미론"
    assert p.messages[0] == {"role": "system", "content": "당신은 문제를 해결하는 전문가입니다."}
    user_text = p.messages[1]["content"]
    assert user_text.startswith("다음 문제에 대해서 충분히 생각하고 추론하여, 10개의 보기(A, B, C, D, E, F, G, H, I, J) "
                                "중 정답을 고르세요.\n\n문제: 다음 중 '연필'을 세는")
    assert user_text.endswith("중 하나여야 합니다.정답: 문제를 풀기 위해, 한 번 천천히 생각해봅시다.")
    assert parse_options(s.row["question"])[6] == "자루"


@pytest.mark.parametrize(
    "sid, output, extracted, rule, value",
    [
        ("000000000000000000000001", "주어 '나의 꿈은'에는 '~것이다'가 호응한다. 따라서 정답은 B입니다.", "B", "official", 1.0),
        ("000000000000000000000001", "정답은 **B**입니다.", "B", "official", 1.0),
        # two letters named: the official rule keeps both and scores the item wrong
        ("000000000000000000000001", "정답은 B 또는 C입니다.", "B, C", "official", 0.0),
        ("000000000000000000000001", "정답은 A가 아니라 B입니다.", "A, B", "official", 0.0),
        # format ignored: the shared cascade takes over
        ("000000000000000000000005", "덮밥은 '덮다'와 '밥'이 결합한 합성어이다.\n최종 답: J", "J", "marker", 1.0),
        ("000000000000000000000006", "연필은 '자루'로 센다.\n자루", "G", "option", 1.0),
        ("000000000000000000000006", "잘 모르겠다.", None, None, 0.0),
    ],
)
def test_kobalt_scoring(kobalt, sid, output, extracted, rule, value):
    bench, samples = kobalt
    sc = run(bench, samples[sid], output)
    assert (sc.extracted, sc.details["rule"], sc.value) == (extracted, rule, value)


def test_kobalt_official_rule_and_option_parsing():
    assert official_extract("정답은 C입니다. ... 다시 말해 정답은 C입니다.") == "C"
    assert official_extract("정답은 없습니다") == ""
    # a pragmatics passage with speaker lines "A: ..." must not be taken for the options
    q = "지문:\nA: 창문 좀 열어 줄래?\nB: 응.\n\n문제: A의 발화 의도는?\n\n" + "".join(
        f"{c}: 보기{i}\n" for i, c in enumerate("ABCDEFGHIJ"))
    assert parse_options(q) == [f"보기{i}" for i in range(10)]


def test_kobalt_json_array_file_loads_like_jsonl(tmp_path, kobalt):
    """Upstream data/train.jsonl is one indented JSON array; the loader accepts it under the .jsonl name."""
    bench, samples = kobalt
    rows = [json.loads(line) for line in (FIXTURES / "kobalt" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "train.jsonl"
    path.write_text("\n" + json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    loaded = load_rows("kobalt", bench.spec.data, path)
    assert [s.id for s in bench.samples(loaded.rows)] == list(samples)
    assert loaded.rows[5]["answer"] == "G"


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


# ---------------------------------------------------------------- YAML specs


@pytest.mark.parametrize("name", ["mmlu_pro", "click", "aime2025", "gpqa_diamond", "kmmlu_pro", "kobalt", "hrm8k"])
def test_spec_generation_defaults(name):
    spec = load_benchmark(name).spec
    assert spec.name == name
    assert (spec.generation.temperature, spec.generation.top_p) == (0.6, 0.95)
    assert spec.generation.max_tokens in (16384, 32768)


def test_gpqa_fixture_is_upstream_csv():
    with open(FIXTURES / "gpqa_diamond" / "gpqa_diamond.csv", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert len(header) == 78 and header.index("Record ID") < header.index("High-level domain")
