"""KoBALT-700 (snunlp/KoBALT-700, data/train.jsonl): 700 Korean linguistics questions, 10 options A–J each.

Reference: the authors' repository snunlp/KoBALT-700 @ 6da8f9321e33e0df8f3cabdba044044606297435 (the inference
scripts last changed at 732f4e035b0d35b153092d5213dc3db8cbbb01e9): `data/inference.md` (the prompt, lines 20-35;
`extract_answer`, lines 64-81; `is_correct: ground_truth == predicted_answer`), identical in
`data/inference_gpt.py`, `data/inference_open-models.py` and `data/inference_gemma.py`.
Data: upstream `data/train.jsonl` is one JSON array (the loader accepts it under the .jsonl name). Fields as of
f7b7d4428a9d ("Korean label name to English"): `ID`, `Class`, `Subclass`, `Question`, `Answer`, `Level`,
`Sampling_YN`; the earlier revision 732f4e0 (which the scripts read) spells them `ID`, `대분류`, `소분류`,
`question`, `answer`, `난이도`, `sampling_YN`. Both are accepted. `Question` holds the whole item (optional `지문:`
passage, `문제:` stem, then ten lines `A: …` to `J: …`); `Answer` is the gold letter. Sample ids are the upstream
`ID`; categories are `Class` (Syntax, Semantics, Pragmatics, Phonetics/Phonology, Morphology).
Prompt: the official system prompt (YAML `options.system`) and user prompt, which asks the model to end with
"정답은 [정답 보기]입니다.".
Score (official): every match of `정답은\\s*(.*?)\\s*입니다`, every capital letter A–Z inside them, in order without
duplicates, joined with ", "; correct only when that string equals the gold letter. So two letters ("B, C") score
0, and an answer without `정답은 X입니다` (a bare "B", "Answer: B", a boxed letter) extracts nothing and scores 0.
(The repository's `inference_claude.py` and `inference_deepseek-v3*.py` keep only the last match and letters A–J;
the two differ only when a response states more than one `정답은 … 입니다`.)
Diagnostic (`details.lenient*`, `metrics.score_lenient`): the shared MCQ cascade (`mcq.extract_choice`, 10 options,
option texts parsed from the question) applied where the official rule extracts nothing; where it extracts
something, the lenient reading is the official one.
"""

from __future__ import annotations

import re

from harness.benchmarks.base import Benchmark, Prompt, Sample, Score
from harness.benchmarks.mcq import LETTERS, lenient_details, lenient_score

N_OPTIONS = 10
_OFFICIAL = re.compile(r"정답은\s*(.*?)\s*입니다")
# field: (current upstream name, name before f7b7d44)
FIELDS = {"question": ("Question", "question"), "answer": ("Answer", "answer"), "class": ("Class", "대분류")}


def field(row: dict, name: str):
    new, old = FIELDS[name]
    return row[new] if new in row else row[old]


def official_extract(text: str) -> str:
    """data/inference.md `extract_answer`: capital letters inside every `정답은 … 입니다`, de-duplicated in order,
    joined by ", " ("" where upstream returns None)."""
    found: list[str] = []
    for m in _OFFICIAL.findall(text or ""):
        for c in re.findall(r"[A-Z]", m):
            if c not in found:
                found.append(c)
    return ", ".join(found)


def parse_options(question: str) -> list[str] | None:
    """The ten option texts: the last run of lines `A: …` .. `J: …` (a passage may hold dialogue lines `A: …`)."""
    lines = question.splitlines()
    for start in range(len(lines) - N_OPTIONS, -1, -1):
        block = lines[start:start + N_OPTIONS]
        if all(ln.startswith(f"{LETTERS[k]}: ") for k, ln in enumerate(block)):
            return [ln[3:].strip() for ln in block]
    return None


class KoBALT(Benchmark):
    def samples(self, rows):
        out = []
        for r in rows:
            if str(field(r, "answer")).strip() not in LETTERS[:N_OPTIONS]:
                raise ValueError(f"kobalt: item {r['ID']}: answer {field(r, 'answer')!r} is not a letter A-J")
            out.append(Sample(id=str(r["ID"]), row=r, category=field(r, "class")))
        return out

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        messages = []
        system = self.spec.options.get("system")
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": self.spec.prompt.format(question=field(sample.row, "question"))})
        return Prompt(messages=messages, target=str(field(sample.row, "answer")).strip())

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        official = official_extract(answer)
        if official:
            lenient = {"lenient": official, "lenient_rule": "official", "lenient_correct": official == prompt.target}
        else:
            lenient = lenient_details(answer, N_OPTIONS, prompt.target,
                                      parse_options(field(sample.row, "question")))
        return Score(float(official == prompt.target), official or None,
                     {"rule": "official" if official else None, **lenient})

    def metrics(self, records):
        return {"score_lenient": lenient_score(records)}


BENCHMARK = KoBALT
