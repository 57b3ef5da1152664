"""HRM8K (HAERAE-HUB/HRM8K, split test): 8,011 Korean math problems in five subsets, answers checked with math-verify.

Subsets (upstream configs): GSM8K 1,319 · MATH 2,885 · OMNI_MATH 1,909 · MMMLU 470 · KSM 1,428.
Data: a directory with one file per subset, named after the config (`GSM8K.jsonl`, `KSM.csv`, ...) or as upstream
(`gsm8k_test.csv`, `math_do_test.csv`, `omni-math_do_test.csv`, `mmmlu_test.csv`, `ksm_test.csv`); the loader marks
each row with its file (`_file`), and the subset comes from the file stem. A row may instead carry `subset`.
Sample ids: `<SUBSET>/<0-based row index within that subset's file>`, e.g. `GSM8K/0`, `KSM/1427`.
Categories: the subset, so the per-subset scores are reported alongside the overall score.
Prompt: the Korean question, then an instruction to solve step by step and put the final answer in `\\boxed{}`;
MMMLU items (options inline in the question, gold = option number 1–4) ask for the option number instead.
Gold answers are CSV text and may be float-formatted ("18.0", "70,000.0"): numeric golds are canonicalised
(thousands separators removed, integral floats written as integers) before checking.
Score (official extraction): the last `\\boxed{}` decides, as the lm-eval HRM8K task does (lm-eval 0.4.13,
`lm_eval/tasks/hrm8k/default/utils.py` `parse_math_answer`: `last_boxed_only_string` then `remove_boxed`; task
version 1.1) and NeMo-Skills `search_boxed` (harness/benchmarks/mathcheck.py). A Korean
unit word right after a number inside the box ("\\boxed{4800원}", "\\boxed{3번}") is dropped first, since
math-verify cannot parse it. The box content is checked against the gold answer with math-verify (symbolic).
Without a box, math-verify reads final-line answers and the last expression of the whole answer (lm-eval falls back
to the last `$...$`, then the last number).
Diagnostic (`details.lmeval_correct`, `metrics.score_lmeval`, when lm-eval is installed): lm-eval's own verdict,
`process_results` on the raw answer and upstream gold (normalised string equality, no symbolic equivalence, units
not dropped), to show how far the symbolic check moves the score.
Metric: accuracy micro-averaged over all items of all subsets (not the mean of the five subset scores).
"""

from __future__ import annotations

import re
from collections import Counter

from harness.benchmarks import mathcheck
from harness.benchmarks.base import Benchmark, Prompt, Sample, Score, user
from harness.benchmarks.mcq import lenient_score

SUBSETS = ("GSM8K", "MATH", "OMNI_MATH", "MMMLU", "KSM")
_UPSTREAM_FILES = {
    "gsm8k_test": "GSM8K",
    "math_do_test": "MATH",
    "omni-math_do_test": "OMNI_MATH",
    "mmmlu_test": "MMMLU",
    "ksm_test": "KSM",
}
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_BOXED_UNIT = re.compile(r"(\\boxed\{[^{}]*?\d)\s*[가-힣]+\s*\}")


def subset_of(row: dict) -> str:
    if row.get("subset"):
        name = str(row["subset"])
    elif row.get("_file"):
        stem = str(row["_file"]).split("/")[-1].split(".")[0]
        name = _UPSTREAM_FILES.get(stem.lower(), stem.upper().replace("-", "_"))
    else:
        raise ValueError("hrm8k: a row has neither `subset` nor `_file`; load the data as a directory of files")
    if name not in SUBSETS:
        raise ValueError(f"hrm8k: unknown subset {name!r} (from {row.get('_file')!r}); expected one of {SUBSETS}")
    return name


def canonical_gold(answer) -> str:
    """"18.0" -> "18", "70,000.0" -> "70000", 18.0 -> "18"; anything else (fractions, LaTeX) unchanged."""
    text = str(answer).strip()
    if _NUMBER.fullmatch(text):
        text = text.replace(",", "")
        if "." in text and float(text).is_integer():
            text = str(int(float(text)))
    return text


class HRM8K(Benchmark):
    def samples(self, rows):
        out = []
        seen: Counter[str] = Counter()
        for r in rows:
            subset = subset_of(r)
            out.append(Sample(id=f"{subset}/{seen[subset]}", row=r, category=subset))
            seen[subset] += 1
        return out

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        key = "instruction_mmmlu" if sample.category == "MMMLU" else "instruction"
        text = self.spec.prompt.format(question=str(sample.row["question"]).strip(), instruction=self.spec.options[key])
        return Prompt(messages=user(text), target=canonical_gold(sample.row["answer"]))

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        sc = mathcheck.check(_BOXED_UNIT.sub(r"\1}", answer or ""), prompt.target, fallback=True)
        ref = lmeval_verdict(answer or "", sample.row["answer"])
        if ref is not None:
            sc.details["lmeval_correct"] = ref
        return sc

    def metrics(self, records):
        return {"score_lmeval": lenient_score(records, key="lmeval_correct")}


def lmeval_verdict(answer: str, gold) -> bool | None:
    """lm-eval's HRM8K verdict (`process_results`) on the raw answer, or None without lm-eval."""
    try:
        from lm_eval.tasks.hrm8k.default import utils
    except ImportError:
        return None
    try:
        return bool(utils.process_results({"answer": gold}, [answer])["exact_match"])
    except Exception:  # noqa: BLE001 - a diagnostic never decides or breaks the score
        return None


BENCHMARK = HRM8K
