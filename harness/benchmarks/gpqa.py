"""GPQA-Diamond (Idavidrein/gpqa, config gpqa_diamond, split train): 198 questions, 4 options, zero-shot CoT.

Reference: openai/simple-evals @ ee3b0318d8d1d9d72755a4120879be65f7c07e9e (gpqa_eval.py and common.py last changed
at 5e623c2b400af62a1278e23595f95b0853d7fe8a).

Data. The authors ship the questions as an encrypted zip (idavidrein/gpqa `dataset.zip`, password published in their
README so that crawlers skip the plain text). With `data.local: gpqa` a data directory holding that zip is read in
memory: member `dataset/gpqa_diamond.csv` (YAML `options.zip_member`), password `options.zip_password`; nothing is
unpacked to disk. A directory of plain CSVs (the gated hub repository's layout: gpqa_diamond.csv, gpqa_main.csv,
...) contributes only its `gpqa_diamond.csv`; a single CSV file or the hub config `gpqa_diamond` is used as is.
Upstream gives the gold answer as text (`Correct Answer`) next to three `Incorrect Answer N` columns, with no letter.
Each (sample, repeat) shuffles [correct, incorrect 1, incorrect 2, incorrect 3] with
`random.Random(item_seed(sample, repeat))` (simple-evals: one `random.Random(0)` stream over the 4 repeats of the
whole set, gpqa_eval.py line 28), so a repeat is a fresh option order that is the same on every run and machine. The
order is recorded as `meta.order` (indices into that list; 0 is the correct answer) and the target is the letter
where the correct answer landed. Answers are stripped of surrounding whitespace, nothing else.
Prompt: simple-evals `QUERY_TEMPLATE_MULTICHOICE` (common.py lines 15-24: "... 'Answer: $LETTER' ... Think step by
step ...", options as `A) text`). Sample ids are the upstream `Record ID`; categories are `High-level domain`
(Physics/Chemistry/Biology).
Score (official): simple-evals' rule, gpqa_eval.py lines 59-61: the first match of `ANSWER_PATTERN_MULTICHOICE`
= `(?i)Answer[ \\t]*:[ \\t]*\\$?([A-D])\\$?` (common.py line 26) anywhere in the answer, compared as is with the
target letter. The pattern is case-blind, so "answer: b" extracts "b", which is not "B" and scores 0, as upstream.
No match: unparsed, 0.
Diagnostic (`details.lenient*`, `metrics.score_lenient`): the shared MCQ cascade (`mcq.extract_choice`, letters A–D:
last boxed, last "Answer: X" marker, last "answer is X", a lone letter line, the option text on the last line).
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from pathlib import Path

from harness.benchmarks.base import Benchmark, Prompt, Sample, Score, user
from harness.benchmarks.mcq import LETTERS, format_options, lenient_details, lenient_score
from harness.errors import DataError

ANSWER_COLUMNS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
# simple-evals common.py line 26 (ANSWER_PATTERN_MULTICHOICE)
ANSWER_PATTERN = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


def official_extract(text: str) -> str | None:
    """simple-evals gpqa_eval.py lines 59-60: `re.search(ANSWER_PATTERN_MULTICHOICE, response_text)`, group 1."""
    m = ANSWER_PATTERN.search(text or "")
    return m.group(1) if m else None


def _answers(row: dict) -> list[str]:
    """[correct, incorrect 1, incorrect 2, incorrect 3] as stripped strings."""
    return [str(row[c]).strip() for c in ANSWER_COLUMNS]


def read_zip(path: Path, member: str, password: str | None) -> list[dict]:
    """The rows of one CSV member of the authors' (encrypted) zip, read in memory."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member, pwd=password.encode() if password else None) as raw:
            return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    except KeyError:
        raise DataError(f"gpqa: {path} has no member {member!r}") from None
    except (RuntimeError, zipfile.BadZipFile, OSError) as e:  # wrong password, corrupt archive
        raise DataError(f"gpqa: cannot read {member!r} from {path} ({e})") from None


class GPQA(Benchmark):
    def _rows(self, rows: list[dict]) -> list[dict]:
        member = self.spec.options.get("zip_member", "dataset/gpqa_diamond.csv")
        wanted = member.rsplit("/", 1)[-1]
        if any("_file" in r for r in rows):  # a directory of files: only the diamond CSV
            rows = [r for r in rows if r.get("_file") == wanted]
        if rows:
            return rows
        where = Path(self.data_source.get("path") or "")
        zips = sorted(where.glob("*.zip")) if where.is_dir() else ([where] if where.suffix == ".zip" else [])
        if not zips:
            return rows
        return read_zip(zips[0], member, self.spec.options.get("zip_password"))

    def samples(self, rows):
        out = []
        for r in self._rows(rows):
            if any(r.get(c) is None or not str(r[c]).strip() for c in ("Question", "Record ID", *ANSWER_COLUMNS)):
                raise ValueError(f"gpqa: row {r.get('Record ID')!r} lacks a question, id or one of the 4 answers")
            out.append(Sample(id=str(r["Record ID"]).strip(), row=r, category=r.get("High-level domain")))
        return out

    def order(self, sample: Sample, repeat: int) -> list[int]:
        """The option order for (sample, repeat): order[k] is the index (into `_answers`) shown as letter k."""
        return random.Random(self.item_seed(sample.id, repeat)).sample(range(4), 4)

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        answers = _answers(sample.row)
        order = self.order(sample, repeat)
        options = [answers[i] for i in order]
        text = self.spec.prompt.format(
            question=str(sample.row["Question"]).strip(), options=format_options(options, "{letter}) {text}")
        )
        return Prompt(messages=user(text), target=LETTERS[order.index(0)], meta={"order": order})

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        answers = _answers(sample.row)
        options = [answers[i] for i in prompt.meta["order"]]
        letter = official_extract(answer)
        details = {"rule": "simple-evals" if letter is not None else None,
                   **lenient_details(answer, 4, prompt.target, options)}
        return Score(float(letter == prompt.target), letter, details)

    def metrics(self, records):
        return {"score_lenient": lenient_score(records)}


BENCHMARK = GPQA
