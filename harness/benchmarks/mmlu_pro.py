r"""MMLU-Pro (TIGER-Lab/MMLU-Pro test, 12,032 questions, up to 10 options), zero-shot chain of thought.

Prompt: the official instruction ("Think step by step and then finish your answer with "the answer is (X)"…")
followed by the question and lettered options.
Extraction: the official TIGER-AI-Lab script, TIGER-AI-Lab/MMLU-Pro `evaluate_from_api.py` (file as of commit
3016805055f78c55ec54a2f9be9fd5f89be95e0a, unchanged at f418b116db00b065c2aea046518d8fcf74d39872): the response is
first stripped of every `**` (`response.replace('**', '')`, line 236), so "The answer is **(B)**" reads B; then, in
order (`extract_answer` / `extract_again` / `extract_final`, lines 189-213):
  1. answer_is     first `answer is \(?([A-J])\)?`
  2. answer_colon  `.*[aA]nswer:\s*([A-J])` (the last one on the first line that has one)
  3. last_letter   `\b[A-J]\b(?!.*\b[A-J]\b)` with DOTALL: the last standalone capital A–J anywhere
Where the official script then guesses a random letter, we record the failure (`extracted: null`) and score 0.
"""

from __future__ import annotations

import re

from harness.benchmarks.base import Benchmark, Prompt, Sample, Score, user
from harness.benchmarks.mcq import LETTERS

_ANSWER_IS = re.compile(r"answer is \(?([A-J])\)?")
_ANSWER_COLON = re.compile(r".*[aA]nswer:\s*([A-J])")
_LAST_LETTER = re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)


def extract(text: str) -> tuple[str | None, str | None]:
    text = text.replace("**", "")  # evaluate_from_api.py line 236, before the three regexes
    m = _ANSWER_IS.search(text)
    if m:
        return m.group(1), "answer_is"
    m = _ANSWER_COLON.search(text)
    if m:
        return m.group(1), "answer_colon"
    m = _LAST_LETTER.search(text)
    if m:
        return m.group(0), "last_letter"
    return None, None


class MMLUPro(Benchmark):
    def samples(self, rows):
        out = []
        for r in rows:
            opts, answer = r["options"], r["answer"]
            if not isinstance(opts, list) or not 1 <= len(opts) <= len(LETTERS):
                raise ValueError(f"question {r['question_id']}: options must be a list of 1 to {len(LETTERS)} "
                                 f"choices, got {opts!r}"[:300])
            if not isinstance(answer, str) or answer not in LETTERS[:len(opts)]:
                raise ValueError(f"question {r['question_id']}: answer {answer!r} is not a letter of its "
                                 f"{len(opts)} options (A-{LETTERS[len(opts) - 1]})")
            out.append(Sample(id=str(r["question_id"]), row=r, category=r.get("category")))
        return out

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r = sample.row
        options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(r["options"]))
        text = self.spec.prompt.format(subject=r.get("category", ""), question=r["question"].strip(), options=options)
        return Prompt(messages=user(text), target=r["answer"])

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        letter, rule = extract(answer)
        if letter is not None and LETTERS.index(letter) >= len(sample.row["options"]):
            rule = f"{rule}:out_of_range"
        return Score(float(letter == prompt.target), letter, {"rule": rule})


BENCHMARK = MMLUPro
