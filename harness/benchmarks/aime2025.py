"""AIME 2025 (I + II): 30 problems, integer answers 0–999.

Sample ids are the 0-based line index in the upstream file (problems 1–15 of AIME I, then AIME II).
Score (official): the last `\\boxed{}` decides, as NeMo-Skills does (`nemo_skills/evaluation/math_grader.py`
`extract_answer` with `extract_from_boxed=True` / `search_boxed`, NVIDIA/NeMo-Skills @
0b012df8a09cd4730d31b16e90a0d8f13d145fb8, lines 95-160): its content is compared with the gold integer by
math-verify (harness/benchmarks/mathcheck.py). No box: nothing extracted, unparsed, 0.
Diagnostic (`details.lenient*`, `metrics.score_lenient`): math-verify on the whole answer (several boxes read as a
set; without a box, final-line answers and the last expression), the pre-fidelity rule.
"""

from __future__ import annotations

from harness.benchmarks import mathcheck
from harness.benchmarks.base import Benchmark, Prompt, Sample, Score, user
from harness.benchmarks.mcq import lenient_score


class AIME2025(Benchmark):
    def samples(self, rows):
        return [Sample(id=str(i), row=r, category="I" if i < 15 else "II") for i, r in enumerate(rows)]

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        return Prompt(messages=user(self.spec.prompt.format(problem=sample.row["problem"])),
                      target=str(sample.row["answer"]))

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        sc = mathcheck.check(answer, prompt.target, fallback=False)
        ok, read = mathcheck.lenient(answer, prompt.target)
        sc.details.update(lenient=read, lenient_correct=ok)
        return sc

    def metrics(self, records):
        return {"score_lenient": lenient_score(records)}


BENCHMARK = AIME2025
