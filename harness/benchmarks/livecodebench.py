"""LiveCodeBench v6 (livecodebench/code_generation_lite): code generation, pass@1, tests run in the sandbox.

Variant: the release files of `options.release` (`release_v6` = test.jsonl … test6.jsonl, upstream's cumulative tag;
`v6` = test6.jsonl alone) restricted to `options.start_date <= contest_date <= options.end_date` (default
2025-02-01 .. 2025-05-01, compared as upstream does: datetimes, the end date at 00:00). Rows loaded from a single
file (`--data livecodebench_v6=FILE`) are filtered by date only.
Sample ids: `question_id`. Categories: `difficulty` (easy / medium / hard). Samples are sorted by id, as upstream.
Tests: public + private test cases (private ones decoded as upstream: plain JSON, else base64 -> zlib -> pickle ->
JSON; the unpickler accepts plain values only). LeetCode-style ("functional") problems are those whose metadata has
`func_name`: each test's input lines are the JSON arguments, its output the JSON return value.
Prompt: upstream's chat prompt for OpenAI-style models (`LMStyle.OpenAIChat`) as of 2024-12-26,
LiveCodeBench/LiveCodeBench commit 264e841, lcb_runner/prompts/code_generation.py: the system message
`PromptConstants.SYSTEM_MESSAGE_GENERIC` (line 14) and the user message of `get_generic_question_template_answer`
(lines 38-50): `### Question:`, `### Format:` with `FORMATTING_MESSAGE_WITH_STARTER_CODE` (line 33) and the starter
code, or `FORMATTING_WITHOUT_STARTER_CODE` (line 35) and `# YOUR CODE HERE`, then `### Answer: ...`. The texts live
in tasks/benchmarks/livecodebench_v6.yaml.
Extraction: upstream's `extract_code` (lcb_runner/utils/extraction_utils.py at 264e841, lines 4-17): the lines
between the last two lines containing ``` (the last fenced block, whatever its language tag); fewer than two such
lines -> extracted None (unparsed, scored 0; upstream runs "" and fails).
Score: 1 when every test passes, as upstream grades it: tests run in order and stop at the first failure; stdout is
compared line by line after stripping, a line that differs must parse as whitespace-separated decimals equal
number by number (`Decimal`, exact: "1.0" equals "1.00", no tolerance); functional results compare with Python `==`
against the JSON-decoded expected output (a returned tuple counts as a list). Per-test limit `sandbox.timeout_s`
(upstream 6 s). Memory: upstream's `reliability_guard()` is called without `maximum_memory_bytes`
(testing_util.py at 264e841, lines 89 and 678-702), so it sets no limit; the task sets `sandbox.memory_mb`
explicitly (a documented deviation, see the task YAML and docs/sandbox.md). pass@1 = mean over repeats.
Divergences from upstream are listed in docs/sandbox.md.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import pickle
import re
import threading
import zlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from harness.benchmarks.base import Benchmark, Prompt, Sample, Score
from harness.sandbox import Execution, Limits, Outcome, Program, Sandbox
from harness.sandbox.box import JSON

# upstream's import line (lcb_runner/evaluation/testing_util.py), as data: star imports, then module imports
_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random", "statistics",
            "itertools", "functools", "operator", "io", "sys", "json")
PREAMBLE = "\n".join(
    [f"from {m} import *" for m in (*_MODULES, "builtins", "typing")]
    + [f"import {m}" for m in _MODULES]
    + ["sys.setrecursionlimit(50000)",
       "if hasattr(sys, 'set_int_max_str_digits'): sys.set_int_max_str_digits(50000)"]
) + "\n"

_REASONS = {"timeout": "timeout", "memory": "memory limit", "output_limit": "output limit",
            "process_limit": "process limit", "runtime_error": "runtime error"}


def extract_code(text: str) -> str | None:
    """Upstream's extraction for chat models (LiveCodeBench/LiveCodeBench lcb_runner/utils/extraction_utils.py at
    264e841, `extract_code`, lines 5, 13-17): split on "\n", take every line that contains ``` anywhere, and return
    the lines between the last two such lines, joined with "\n" (no language preference, no dedent, no trailing
    newline). Fewer than two such lines: upstream returns "" and runs it (which fails every test); here None
    (unparsed, scored 0)."""
    lines = (text or "").split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[-2] + 1:fences[-1]])


class _PlainValues(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"private_test_cases holds a {module}.{name} object; expected a JSON string")


def decode_tests(row: dict[str, Any]) -> list[dict[str, str]]:
    """Public then private test cases, each {"input", "output", "testtype"}."""
    private = row.get("private_test_cases") or "[]"
    try:
        private_tests = json.loads(private)
    except ValueError:
        raw = zlib.decompress(base64.b64decode(private))
        private_tests = json.loads(_PlainValues(io.BytesIO(raw)).load())
    return list(json.loads(row.get("public_test_cases") or "[]")) + list(private_tests)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def stdout_matches(got: str, expected: str) -> bool:
    a, b = _lines(got), _lines(expected)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        try:
            if [Decimal(t) for t in x.split()] != [Decimal(t) for t in y.split()]:
                return False
        except (InvalidOperation, ValueError):
            return False
    return True


def function_name(row: dict[str, Any]) -> str | None:
    meta = row.get("metadata") or "{}"
    meta = json.loads(meta) if isinstance(meta, str) else meta
    return meta.get("func_name") or None


def contest_date(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["contest_date"]).replace("Z", "+00:00")).replace(tzinfo=None)


def release_files(release: str) -> set[str] | None:
    """File names of a release tag: release_vN = files 1..N, vN = file N alone."""
    name = lambda n: "test.jsonl" if n == 1 else f"test{n}.jsonl"  # noqa: E731
    if m := re.fullmatch(r"release_v(\d+)", release):
        return {name(n) for n in range(1, int(m.group(1)) + 1)}
    if m := re.fullmatch(r"v(\d+)", release):
        return {name(int(m.group(1)))}
    raise ValueError(f"livecodebench: release {release!r} is not release_vN or vN")


class LiveCodeBench(Benchmark):
    def __init__(self, spec):
        super().__init__(spec)
        self._sandbox: Sandbox | None = None
        self._lock = threading.Lock()

    def samples(self, rows):
        opts = self.spec.options
        files = release_files(str(opts.get("release", "release_v6")))
        start = datetime.fromisoformat(str(opts["start_date"])) if opts.get("start_date") else None
        end = datetime.fromisoformat(str(opts["end_date"])) if opts.get("end_date") else None
        out = []
        for r in rows:
            if "_file" in r and files is not None and str(r["_file"]).split("/")[-1] not in files:
                continue
            when = contest_date(r)
            if (start and when < start) or (end and when > end):
                continue
            out.append(Sample(id=str(r["question_id"]), row=r, category=r.get("difficulty")))
        return sorted(out, key=lambda s: s.id)

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r, opts = sample.row, self.spec.options
        starter = r.get("starter_code") or ""
        text = self.spec.prompt.format(
            question=r["question_content"],
            format=opts["format_with_starter"] if starter else opts["format_without_starter"],
            starter=starter or "# YOUR CODE HERE",
        )
        messages = [{"role": "system", "content": opts["system"]}, {"role": "user", "content": text}]
        return Prompt(messages=messages, target="all tests pass")

    @property
    def sandbox(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                conf = dict(self.spec.options.get("sandbox") or {})
                self._sandbox = Sandbox(
                    Limits(**{k: conf.pop(k) for k in list(conf) if k in Limits.__dataclass_fields__}),
                    workers=conf.pop("workers", None), isolation=conf.pop("isolation", "namespaces"),
                    python=conf.pop("python", None), uid_base=conf.pop("uid_base", None))
                if conf:
                    raise ValueError(f"livecodebench: unknown sandbox options {sorted(conf)}")
            return self._sandbox

    async def ascore(self, sample, prompt, response, roles) -> Score:
        code = extract_code(response.text)
        if code is None:
            return Score(0.0, None, {"passed": 0, "total": None, "reason": "no code block"})
        tests = await asyncio.to_thread(decode_tests, sample.row)
        fn = function_name(sample.row)
        expected = [t["output"] for t in tests]
        if fn:
            wanted = [JSON.decode(e) for e in expected]
            program = Program("call", code, [t["input"] for t in tests], fn_name=fn, preamble=PREAMBLE)
            accept = lambda i, out: out.value == wanted[i]  # noqa: E731
        else:
            program = Program("stdio", code, [t["input"] for t in tests], preamble=PREAMBLE)
            accept = lambda i, out: stdout_matches(out.stdout or "", expected[i])  # noqa: E731
        run = await self.sandbox.arun(program, accept)
        return Score(float(passed_all(run, len(tests))), code, verdict(run, len(tests)))


def passed_all(run: Execution, total: int) -> bool:
    """A pass is one judged, passing outcome per test: the sandbox's `completed` alone is not taken on trust."""
    return (run.stop == "completed" and total > 0 and len(run.outcomes) == total
            and all(o.passed is True and o.status == "ok" for o in run.outcomes))


def verdict(run: Execution, total: int) -> dict[str, Any]:
    """details: passed / total, and for a failure its kind, a short reason and the error text."""
    passed = sum(1 for o in run.outcomes if o.passed)
    details: dict[str, Any] = {"passed": passed, "total": total}
    if passed_all(run, total):
        return details
    last: Outcome | None = run.outcomes[-1] if run.outcomes else None
    if run.stop == "compile_error":
        kind, reason = "compile_error", "compile error"
    elif last is not None and run.stop in ("rejected", "timeout"):
        kind = "wrong_answer" if last.status == "ok" else last.status
        reason = f"{_REASONS.get(kind, 'wrong answer')} on test {len(run.outcomes)}"
    elif run.stop == "timeout":
        kind, reason = "timeout", "timeout while loading the code"
    elif run.stop == "violation":
        kind, reason = "protocol_violation", "forged or malformed sandbox result"
    elif run.stop == "completed":
        kind, reason = "incomplete", f"{passed} of {total} tests passed"
    else:
        kind, reason = "sandbox_crash", "sandbox crashed"
    details.update(kind=kind, reason=reason)
    if run.outcomes:
        details["test"] = len(run.outcomes)
    error = run.error or (last.error if last else None)
    if error:
        details["error"] = error[-500:]
    return details


BENCHMARK = LiveCodeBench
