"""LiveCodeBench v6 on the synthetic fixtures (tests/fixtures/livecodebench_v6, upstream schema): loading, the date
window, prompts, extraction, upstream's comparison rules, and known-correct / known-wrong solutions run for real in
the sandbox, end to end through the runner."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from harness.benchmarks import load_benchmark
from harness.benchmarks.livecodebench import decode_tests, extract_code, stdout_matches
from harness.config import GenerationParams, ModelSpec
from harness.data import load_rows
from harness.engine.base import Response
from conftest import FIXTURES, read_samples, run_benchmarks

DATA = FIXTURES / "livecodebench_v6"
IN_WINDOW = ["9002B", "9004", "9005", "fx9001_a", "fx9003_e"]


def fenced(code: str, tag: str = "python") -> str:
    return f"Here is my solution.\n\n```{tag}\n{code.strip()}\n```\n"


# known-correct and known-wrong solutions per fixture problem; `wrong` fails with the reason given
SOLUTIONS = {
    "fx9001_a": {
        "correct": "a, b = map(int, input().split())\nprint(a + b)",
        "wrong": ("a, b = map(int, input().split())\nprint(a + b if abs(a) < 10**9 else 0)",
                  "wrong_answer", "wrong answer on test 3"),
    },
    "9002B": {
        "correct": ("n = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n:.6f}')\n"
                    "print(max(xs))"),
        # off by 1e-9: upstream compares decimals exactly, there is no tolerance
        "wrong": ("n = int(input())\nxs = list(map(int, input().split()))\nprint(f'{sum(xs) / n + 1e-9:.9f}')\n"
                  "print(max(xs))", "wrong_answer", "wrong answer on test 1"),
    },
    "fx9003_e": {
        "correct": ("import sys\nn = int(sys.stdin.readline())\ns = bytearray([1]) * (n + 1)\ns[0] = 0\n"
                    "if n >= 1:\n    s[1] = 0\nfor i in range(2, int(n ** 0.5) + 1):\n    if s[i]:\n"
                    "        s[i * i::i] = bytearray(len(s[i * i::i]))\nprint(sum(s))"),
        "wrong": ("n = int(input())\n"
                  "print(sum(1 for p in range(2, n) if all(p % d for d in range(2, int(p ** 0.5) + 1))))",
                  "wrong_answer", "wrong answer on test 3"),
    },
    "9004": {
        # a returned tuple counts as the expected list (upstream converts the top level only)
        "correct": ("class Solution:\n    def closestPair(self, nums: List[int]) -> List[int]:\n"
                    "        s = sorted(nums)\n        i = min(range(len(s) - 1), key=lambda j: s[j + 1] - s[j])\n"
                    "        return s[i], s[i + 1]"),
        "wrong": ("class Solution:\n    def closestPair(self, nums: List[int]) -> List[int]:\n"
                  "        s = sorted(nums)\n        i = min(range(len(s) - 1), key=lambda j: s[j + 1] - s[j])\n"
                  "        return [s[i + 1], s[i]]", "wrong_answer", "wrong answer on test 1"),
    },
    "9005": {
        "correct": "class Solution:\n    def repeatWord(self, word: str, k: int) -> str:\n        return word * k",
        "wrong": ("class Solution:\n    def repeat(self, word: str, k: int) -> str:\n        return word * k",
                  "compile_error", "compile error"),
    },
}


@pytest.fixture(scope="module")
def lcb():
    bench = load_benchmark("livecodebench_v6")
    rows = load_rows("livecodebench_v6", bench.spec.data, DATA, []).rows
    return bench, {s.id: s for s in bench.samples(rows)}, rows


def score(bench, sample, text: str):
    return asyncio.run(bench.ascore(sample, bench.prompt(sample, 0), Response(text=text), None))


# ---------------------------------------------------------------- data


def test_default_window_keeps_release_v6_problems_dated_2025_02_01_to_2025_05_01(lcb):
    bench, samples, rows = lcb
    assert len(rows) == 8  # test5.jsonl + test6.jsonl, each row marked with its file
    assert list(samples) == IN_WINDOW  # sorted by question_id, as upstream
    assert {s.category for s in samples.values()} == {"easy", "medium", "hard"}


def test_release_and_window_options_select_files_and_dates(lcb):
    bench, _, rows = lcb
    opts = bench.spec.options
    saved = dict(opts)
    try:
        opts.update(start_date=None, end_date=None)
        assert len(bench.samples(rows)) == 8  # release_v6 is cumulative: test5.jsonl is in it
        opts.update(release="v6")
        assert "8001A" not in {s.id for s in bench.samples(rows)} and len(bench.samples(rows)) == 7
        opts.update(release="release_v5")
        assert [s.id for s in bench.samples(rows)] == ["8001A"]
        opts.update(release="v6", start_date="2025-05-01", end_date="2025-05-02")
        assert [s.id for s in bench.samples(rows)] == ["fx9010_a"]  # the end date is inclusive at 00:00
        opts.update(release="latest")
        with pytest.raises(ValueError, match="release_vN or vN"):
            bench.samples(rows)
    finally:
        opts.clear()
        opts.update(saved)


def test_private_tests_decode_from_base64_zlib_pickle_and_plain_json(lcb):
    _, samples, _ = lcb
    encoded = decode_tests(samples["fx9001_a"].row)
    assert [t["output"] for t in encoded] == ["3\n", "0\n", "2000000000000000000\n", "-2\n", "0\n"]
    plain = decode_tests(samples["9005"].row)  # this row's private tests are plain JSON
    assert len(plain) == 4 and plain[0] == {"input": '"ab"\n3', "output": '"ababab"', "testtype": "functional"}


def test_private_tests_holding_objects_are_refused():
    evil = base64.b64encode(zlib.compress(pickle.dumps(os.system))).decode()
    with pytest.raises(pickle.UnpicklingError, match="expected a JSON string"):
        decode_tests({"public_test_cases": "[]", "private_test_cases": evil})


# Upstream's prompt for OpenAI-style chat models as of 2024-12-26: LiveCodeBench/LiveCodeBench commit
# 264e841ad0e599f0130e442adf30fcde60bf2886, lcb_runner/prompts/code_generation.py, copied verbatim:
# PromptConstants lines 14, 33, 35; get_generic_question_template_answer lines 38-50; format_prompt_generation
# lines 209-223 (LMStyle.OpenAIChat: a system message, then the template as the user message).
UPSTREAM_SYSTEM_MESSAGE_GENERIC = "You are an expert Python programmer. You will be given a question (problem specification) and will generate a correct Python program that matches the specification and passes all tests."  # noqa: E501
UPSTREAM_FORMATTING_MESSAGE_WITH_STARTER_CODE = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."  # noqa: E501
UPSTREAM_FORMATTING_WITHOUT_STARTER_CODE = "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."  # noqa: E501


def upstream_generic_question_template_answer(question_content: str, starter_code: str) -> str:
    prompt = f"### Question:\n{question_content}\n\n"
    if starter_code:
        prompt += (
            f"### Format: {UPSTREAM_FORMATTING_MESSAGE_WITH_STARTER_CODE}\n"
        )
        prompt += f"```python\n{starter_code}\n```\n\n"
    else:
        prompt += f"### Format: {UPSTREAM_FORMATTING_WITHOUT_STARTER_CODE}\n"
        prompt += "```python\n# YOUR CODE HERE\n```\n\n"
    prompt += "### Answer: (use the provided format with backticks)\n\n"
    return prompt


def upstream_extract_code(model_output: str) -> str:
    """lcb_runner/utils/extraction_utils.py at 264e841, lines 4-17, for chat styles (not CodeLLaMa, not base)."""
    outputlines = model_output.split("\n")
    indexlines = [i for i, line in enumerate(outputlines) if "```" in line]
    if len(indexlines) < 2:
        return ""
    return "\n".join(outputlines[indexlines[-2] + 1 : indexlines[-1]])


@pytest.mark.parametrize("qid", ["fx9001_a", "9002B", "fx9003_e", "9004", "9005"])
def test_prompt_is_upstreams_2024_12_26_chat_prompt(lcb, qid):
    """Both kinds: stdin problems (no starter code) and functional LeetCode problems (starter code, func_name)."""
    bench, samples, _ = lcb
    row = samples[qid].row
    assert bool(row["starter_code"]) == (qid in ("9004", "9005"))
    assert bench.prompt(samples[qid], 0).messages == [
        {"role": "system", "content": UPSTREAM_SYSTEM_MESSAGE_GENERIC},
        {"role": "user", "content": upstream_generic_question_template_answer(row["question_content"],
                                                                              row["starter_code"])},
    ]


def test_prompt_texts_are_the_2024_12_26_ones_not_the_older_ones(lcb):
    bench, samples, _ = lcb
    system, user = bench.prompt(samples["fx9001_a"], 0).messages
    assert "You will NOT return anything except for the program" not in system["content"]  # removed at 264e841
    assert user["content"].endswith(
        "Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the "
        "inputs, runs the algorithm and writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n"
        "### Answer: (use the provided format with backticks)\n\n")
    functional = bench.prompt(samples["9004"], 0).messages[1]["content"]
    assert ("### Format: You will use the following starter code to write the solution to the problem and enclose "
            "your code within delimiters.\n```python\n" + samples["9004"].row["starter_code"] + "\n```\n\n"
            "### Answer:") in functional


# ---------------------------------------------------------------- extraction and comparison

# crafted responses: several fenced blocks, language tags, indented fences, inline backticks, odd fence counts
CRAFTED = {
    "two python blocks": "```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```\n",
    "python then an example output block": "```python\nprint(1)\n```\nExample:\n```text\n2\n```\nDone.",
    "python then cpp": "```python\nprint(1)\n```\n```cpp\nint main(){}\n```",
    "untagged then python3": "```\nx = 1\n```\n```python3\nx = 2\nprint(x)\n```",
    "capitalised tag": "Solution:\n```Python\nprint('P')\n```",
    "indented fences are not dedented": "1. code:\n   ```python\n   print(3)\n   ```",
    "inline triple backticks count as a fence line": "```python\nprint(1)\n```\nUse ``` to fence code.",
    "three fence lines (unclosed last)": "```python\nprint(1)\n```\n```python\nprint(2)",
    "empty block": "```python\n```",
    "trailing text after the fence line": "```python\nprint(5)\n``` end",
    "CRLF line ends": "```python\r\nprint(6)\r\n```\r\n",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_extraction_equals_upstreams_on_crafted_responses(name):
    text = CRAFTED[name]
    assert extract_code(text) == upstream_extract_code(text)


def test_extraction_takes_the_last_block_whatever_its_tag():
    # extraction_utils.py at 264e841, line 17: outputlines[indexlines[-2] + 1 : indexlines[-1]]
    assert extract_code(CRAFTED["two python blocks"]) == "print(2)"
    assert extract_code(CRAFTED["python then an example output block"]) == "2"
    assert extract_code(CRAFTED["python then cpp"]) == "int main(){}"
    assert extract_code(CRAFTED["untagged then python3"]) == "x = 2\nprint(x)"
    assert extract_code(CRAFTED["indented fences are not dedented"]) == "   print(3)"
    assert extract_code(CRAFTED["inline triple backticks count as a fence line"]) == ""
    assert extract_code(CRAFTED["three fence lines (unclosed last)"]) == ""
    assert extract_code(CRAFTED["empty block"]) == ""


def test_fewer_than_two_fence_lines_is_unparsed():
    # upstream returns "" (line 15) and runs it; here None: unparsed, scored 0 either way
    for text in ("print(1)  # no fence", "```python\nprint(1)\n", "", None):
        assert extract_code(text) is None
        assert upstream_extract_code(text or "") == ""


def test_the_last_block_decides_the_score(lcb):
    bench, samples, _ = lcb
    correct, wrong = SOLUTIONS["fx9001_a"]["correct"], SOLUTIONS["fx9001_a"]["wrong"][0]
    s = score(bench, samples["fx9001_a"], fenced(wrong) + "\nFixed version:\n" + fenced(correct))
    assert s.value == 1.0 and s.extracted == correct
    # a correct program followed by an example-output block: upstream runs the example output, which fails
    s = score(bench, samples["fx9001_a"], fenced(correct) + "\nSample run:\n```\n3\n```\n")
    assert s.value == 0.0 and s.extracted == "3"


def test_memory_limit_is_explicit_in_the_task_yaml(lcb):
    """Upstream's reliability_guard() sets no memory limit (testing_util.py at 264e841, lines 89, 690); the task
    keeps a documented safety cap of 16 GiB address space per process, written out in the YAML."""
    import yaml

    from harness.config import tasks_dir

    raw = yaml.safe_load((tasks_dir() / "benchmarks" / "livecodebench_v6.yaml").read_text())
    assert raw["options"]["sandbox"]["memory_mb"] == 16384
    bench, _, _ = lcb
    assert bench.spec.options["sandbox"]["memory_mb"] == 16384


@pytest.mark.parametrize("got, expected, same", [
    ("3\n", "3", True),
    ("  3  \n\n", "3\n", True),  # outer whitespace and line-edge spaces are stripped
    ("1 2\r\n3\r\n", "1 2\n3\n", True),
    ("2.5\n", "2.50\n", True),  # equal as decimals
    ("1e3\n", "1000\n", True),
    ("0.333\n", "0.3333\n", False),  # no tolerance
    ("1  2\n", "1 2\n", True),  # tokens, not spacing
    ("1\n\n2\n", "1\n2\n", False),  # a blank line inside is a line
    ("Yes\n", "YES\n", False),
    ("1 2 3\n", "1 2\n", False),
    ("nan\n", "nan\n", True),  # identical text passes before any number parsing
    ("nan\n", "NaN\n", False),
])
def test_stdout_comparison_follows_upstream(got, expected, same):
    assert stdout_matches(got, expected) is same


# ---------------------------------------------------------------- solutions run in the sandbox


@pytest.mark.parametrize("qid", sorted(SOLUTIONS))
def test_known_correct_solution_passes_every_test(lcb, qid):
    bench, samples, _ = lcb
    s = score(bench, samples[qid], fenced(SOLUTIONS[qid]["correct"]))
    n = len(decode_tests(samples[qid].row))
    assert s.value == 1.0 and s.error is None, s.details
    assert s.details == {"passed": n, "total": n}


@pytest.mark.parametrize("qid", sorted(SOLUTIONS))
def test_known_wrong_solution_fails_with_its_reason(lcb, qid):
    bench, samples, _ = lcb
    code, kind, reason = SOLUTIONS[qid]["wrong"]
    s = score(bench, samples[qid], fenced(code))
    assert s.value == 0.0 and s.extracted is not None
    assert (s.details["kind"], s.details["reason"]) == (kind, reason), s.details


def test_nested_tuples_do_not_equal_lists(lcb):
    bench, samples, _ = lcb
    # upstream turns a returned tuple into a list (the correct solution above returns one); a tuple nested in the
    # result stays a tuple, and (7, 9) != [7, 9] in Python
    nested = "class Solution:\n    def closestPair(self, nums):\n        return [tuple(sorted(nums)[2:])][0:1]"
    listed = "class Solution:\n    def closestPair(self, nums):\n        return [list(sorted(nums)[2:])][0]"
    assert score(bench, samples["9004"], fenced(nested)).details["reason"] == "wrong answer on test 1"
    assert score(bench, samples["9004"], fenced(listed)).details["passed"] == 1


def test_slow_solution_times_out_on_the_big_test(lcb):
    bench, samples, _ = lcb
    slow = "n = int(input())\nprint(sum(1 for p in range(2, n + 1) if all(p % d for d in range(2, p))))"
    opts = bench.spec.options
    saved = opts["sandbox"]
    opts["sandbox"] = {**saved, "timeout_s": 1}
    bench._sandbox = None
    try:
        s = score(bench, samples["fx9003_e"], fenced(slow))
    finally:
        opts["sandbox"] = saved
        bench._sandbox = None
    assert s.value == 0.0 and s.details["kind"] == "timeout"
    assert s.details["reason"] == "timeout on test 5" and s.details["passed"] == 4  # N = 99991 is too slow


def test_runtime_and_compile_errors_and_missing_blocks(lcb):
    bench, samples, _ = lcb
    s = score(bench, samples["fx9001_a"], fenced("print(1 / 0)"))
    assert s.details["reason"] == "runtime error on test 1" and "ZeroDivisionError" in s.details["error"]
    s = score(bench, samples["fx9001_a"], fenced("def broken(:"))
    assert s.details["kind"] == "compile_error" and "SyntaxError" in s.details["error"]
    s = score(bench, samples["fx9001_a"], "a, b = map(int, input().split())\nprint(a + b)")
    assert s.value == 0.0 and s.extracted is None and s.details["reason"] == "no code block"


def test_upstream_preamble_names_are_available(lcb):
    bench, samples, _ = lcb
    # upstream runs every solution after `from math import *` etc.: sqrt, Counter, List need no import
    code = "n = int(input())\nprint(len([p for p in range(2, n + 1) if all(p % d for d in range(2, isqrt(p) + 1))]))"
    assert score(bench, samples["fx9003_e"], fenced(code)).details["passed"] >= 3


def test_unknown_sandbox_option_is_refused(lcb):
    bench, _, _ = lcb
    fresh = load_benchmark("livecodebench_v6")
    fresh.spec.options["sandbox"] = {"timeout_s": 1, "cpu_cores": 4}
    with pytest.raises(ValueError, match="unknown sandbox options"):
        fresh.sandbox  # noqa: B018


# ---------------------------------------------------------------- forged results (issue 13, item 1)

# the exploit: the protocol's "end" written to fds 3..64, at import or from inside the function, by code
# whose answer is None / nothing; and the same with every other message of the protocol forged before it
_END = 'b\'{"ev": "end"}\\n\''
_ALL = ('b\'{"ev": "ready", "load_s": 0}\\n{"ev": "start", "i": 0}\\n'
        '{"ev": "done", "i": 0, "status": "ok", "value": [1, 2], "stdout": "3\\\\n"}\\n{"ev": "end"}\\n'
        '{"value": [1, 2]}\\n{"ev": "end"}\\n\'')


def _forger(payload: str) -> str:
    return ("import os\ndef forge():\n    for fd in range(3, 65):\n        try:\n"
            f"            os.write(fd, {payload})\n        except OSError:\n            pass\n")


FORGERS = {}
for _name, _payload in (("end", _END), ("all", _ALL)):
    FORGERS.update({
        f"call_import_{_name}": ("9004", _forger(_payload) + "forge()\nclass Solution:\n"
                                 "    def closestPair(self, nums):\n        return None\n"),
        f"call_function_{_name}": ("9004", _forger(_payload) + "class Solution:\n    def closestPair(self, nums):\n"
                                   "        forge()\n        return None\n"),
        f"stdio_{_name}": ("fx9001_a", _forger(_payload) + "forge()\n"),
    })
AS_ROOT = os.getuid() == 0
ISOLATIONS = ["namespaces"] + ([] if AS_ROOT and not Path("/usr/bin/python3").exists() else ["rlimits"])


@pytest.fixture(params=ISOLATIONS)
def isolated(lcb, request):
    bench, samples, _ = lcb
    opts = bench.spec.options
    saved = opts["sandbox"]
    python = "/usr/bin/python3" if request.param == "rlimits" and AS_ROOT else saved.get("python")
    opts["sandbox"] = {**saved, "isolation": request.param, "python": python}
    bench._sandbox = None
    yield bench, samples
    opts["sandbox"] = saved
    bench._sandbox = None


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_forged_protocol_messages_score_zero(isolated, forger):
    bench, samples = isolated
    qid, code = FORGERS[forger]
    s = score(bench, samples[qid], fenced(code))
    n = len(decode_tests(samples[qid].row))
    assert s.value == 0.0, s.details
    assert s.details["passed"] == 0 and s.details["total"] == n
    assert (s.details["kind"], s.details["reason"]) == ("wrong_answer", "wrong answer on test 1"), s.details


def test_a_completed_run_scores_only_with_one_passing_outcome_per_test(lcb, monkeypatch):
    """Defence in depth: even a `completed` from the sandbox scores 0 unless every test has a passing outcome."""
    from harness.sandbox import Execution, Outcome

    bench, samples, _ = lcb
    n = len(decode_tests(samples["9004"].row))
    runs = {
        "none": Execution([], "completed"),
        "short": Execution([Outcome("ok", value=[1, 2], passed=True)], "completed"),
        "unjudged": Execution([Outcome("ok", value=[1, 2])] * n, "completed"),
        "violation": Execution([], "violation", "sandbox protocol violation: end after 0 of 5 tests"),
    }
    for name, run in runs.items():
        async def arun(program, accept, run=run):
            return run
        monkeypatch.setattr(bench.sandbox, "arun", arun)
        s = score(bench, samples["9004"], fenced(SOLUTIONS["9004"]["correct"]))
        assert s.value == 0.0, name
        if name == "violation":
            assert s.details["kind"] == "protocol_violation" and "end after 0" in s.details["error"]
        else:
            assert s.details["kind"] == "incomplete", s.details


# ---------------------------------------------------------------- end to end through the runner


def _responses(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_responses_pass_at_1_over_repeats(tmp_path):
    from harness.responses import score_responses

    rows = []
    for qid, sol in SOLUTIONS.items():
        rows.append({"sample_id": qid, "repeat": 0, "response": fenced(sol["correct"])})
        rows.append({"sample_id": qid, "repeat": 1, "response": fenced(sol["wrong"][0])})
    rows[-1]["response"] = "I cannot solve this."  # 9005 repeat 1: no code block -> unparsed
    summary = score_responses("livecodebench_v6", _responses(tmp_path / "r.jsonl", rows), tmp_path / "out",
                              data=DATA)
    b = summary["benchmarks"]["livecodebench_v6"]
    assert b["n"] == 5 and b["repeats"] == 2
    assert b["score"] == pytest.approx(50.0)  # every problem passes on one repeat of two
    assert b["repeat_scores"] == [pytest.approx(100.0), pytest.approx(0.0)]
    assert b["unparsed_rate"] == pytest.approx(0.1)
    recs = {(r["sample_id"], r["repeat"]): r for r in read_samples(tmp_path / "out")}
    assert recs[("fx9001_a", 1)]["details"]["reason"] == "wrong answer on test 3"
    assert recs[("9005", 1)]["extracted"] is None
    assert recs[("9004", 0)]["category"] == "medium"


def test_run_against_a_scripted_server(tmp_path, scripted_server, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(FIXTURES))
    # a phrase of each problem's prompt -> the reply: correct code for three problems, wrong code for two
    phrases = {"fx9001_a": "Print A + B", "9002B": "print their mean", "fx9003_e": "number of primes",
               "9004": "def closestPair", "9005": "def repeatWord"}
    good = {"fx9001_a", "9004", "9005"}
    rules = [{"match": phrases[q], "reply": fenced(SOLUTIONS[q]["correct"] if q in good else SOLUTIONS[q]["wrong"][0])}
             for q in phrases]
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules))
    with scripted_server("--reply-file", str(rules_file)) as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url)
        summary = run_benchmarks(spec, tmp_path / "run", benchmarks=("livecodebench_v6",), limit=None,
                                 generation=GenerationParams(max_tokens=64, temperature=0.0))
    b = summary["benchmarks"]["livecodebench_v6"]
    assert b["n"] == 5 and b["score"] == pytest.approx(60.0) and b["valid"]
    recs = {r["sample_id"]: r for r in read_samples(tmp_path / "run")}
    assert {q for q, r in recs.items() if r["score"] == 1.0} == good
    assert recs["9002B"]["details"]["kind"] == "wrong_answer"
