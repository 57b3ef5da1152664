"""NIA private benchmark, run from local files (never from the network). Format: docs/nia-format.md.

Every JSONL file in the data directory holds items:
  {"id": "...", "area": "math", "type": "mcq", "question": "...", "choices": [...], "answer": "B"}
  {"id": "...", "area": "knowledge", "type": "short", "question": "...", "answer": "서울", "aliases": ["Seoul"],
   "match": "exact" | "math"}
  {"id": "...", "area": "safety", "type": "judged", "question": "...", "reference": "...", "rubric": "..."}
Areas: math, knowledge, long_context, reliability, safety, instruction_following, korean.
MCQ answers may be a letter, a 1-based index or the option text. Short answers are compared after Unicode NFKC,
case folding and removal of spaces and punctuation ("exact"), or with math-verify ("math"). Judged items are put to the
judge role (`--judge`) with their reference and rubric; the verdict must be CORRECT or INCORRECT. Without a judge, or
with an unreadable verdict, the item is an error (never scored as wrong) and the NIA score is invalid.
Per-area scores are the `categories` of the summary; the NIA score is their weighted mean (`nia_score`).
"""

from __future__ import annotations

import re
import unicodedata

from harness.benchmarks import judging, mathcheck
from harness.benchmarks.base import Benchmark, Prompt, Roles, Sample, Score, user
from harness.benchmarks.mcq import LETTERS, extract_choice, format_options
from harness.engine.base import Response

AREAS = ("math", "knowledge", "long_context", "reliability", "safety", "instruction_following", "korean")
TYPES = ("mcq", "short", "judged")


def _mcq_letter(row: dict) -> str:
    a, choices = str(row["answer"]).strip(), row["choices"]
    if len(a) == 1 and a in LETTERS[: len(choices)]:
        return a
    if a.isdigit() and 1 <= int(a) <= len(choices):
        return LETTERS[int(a) - 1]
    if a in choices:
        return LETTERS[choices.index(a)]
    raise ValueError(f"answer {a!r} is not a letter, 1-based index or option text of its {len(choices)} choices")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\W_]+", "", text)


_FINAL = re.compile(r"(?:정답|답|Answer|answer)\s*[:：]\s*(.+)")


def final_answer(text: str) -> str | None:
    """The last '정답: …' / 'Answer: …', else the last \\boxed{…}, else the last non-empty line."""
    found = _FINAL.findall(text or "")
    if found:
        return found[-1].strip().strip("*").strip()
    boxed = re.findall(r"\\boxed\{([^{}]*)\}", text or "")
    if boxed:
        return boxed[-1].strip()
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else None


class NIA(Benchmark):
    optional_roles = ("judge",)  # judged items use a judge when one is given

    def samples(self, rows):
        out = []
        for n, r in enumerate(rows):
            where = f"{r.get('_file', '?')} item {r.get('id', n)}"
            if r.get("area") not in AREAS:
                raise ValueError(f"{where}: area {r.get('area')!r} is not one of {', '.join(AREAS)}")
            if r.get("type") not in TYPES:
                raise ValueError(f"{where}: type {r.get('type')!r} is not one of {', '.join(TYPES)}")
            if r["type"] == "mcq":
                try:
                    _mcq_letter(r)
                except (KeyError, ValueError) as e:
                    raise ValueError(f"{where}: {e}") from None
            elif r["type"] == "short" and not str(r.get("answer", "")).strip():
                raise ValueError(f"{where}: a short-answer item needs a non-empty answer")
            out.append(Sample(id=str(r["id"]), row=r, category=r["area"]))
        return out

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r = sample.row
        context = f"{r['context'].strip()}\n\n" if r.get("context") else ""
        if r["type"] == "mcq":
            text = self.spec.options["mcq_prompt"].format(context=context, question=r["question"].strip(),
                                                          options=format_options(r["choices"]))
            return Prompt(user(text), target=_mcq_letter(r))
        text = self.spec.options["open_prompt"].format(context=context, question=r["question"].strip())
        return Prompt(user(text), target=str(r.get("answer") or r.get("reference") or ""))

    async def ascore(self, sample: Sample, prompt: Prompt, response: Response, roles: Roles) -> Score:
        if sample.row["type"] != "judged":
            return self.score(sample, prompt, response.text)
        r = sample.row
        if roles.judge is None:
            return Score(None, None, {"type": "judged"}, error="judged NIA items need a judge: pass --judge "
                                                                 "ENGINE:MODEL[@URL] (the response is kept)")
        if not response.text.strip():
            return Score(0.0, None, {"type": "judged"})  # nothing to judge: unparsed, scored 0 without a call
        text = self.spec.options["judge_prompt"].format(
            question=r["question"].strip(), reference=r.get("reference", ""), rubric=r.get("rubric", ""),
            response=response.text)
        verdict = await judging.ask(roles, text, judging.judge_params(self.spec.options))
        if (bad := judging.failed(verdict)) is not None:
            return bad
        word = judging.verdict_word(verdict.text)
        details = {"type": "judged", "judge_raw": verdict.text[:500], "judge_cached": verdict.extra.get("cached")}
        if word is None:
            return Score(None, None, details, error=f"judge verdict unparseable: {verdict.text[:200]!r}")
        return Score(float(word == "CORRECT"), response.text[:500], {**details, "verdict": word})

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        r = sample.row
        if r["type"] == "mcq":
            letter, rule = extract_choice(answer, len(r["choices"]), r["choices"])
            return Score(float(letter == prompt.target), letter, {"rule": rule, "type": "mcq"})
        if r["type"] == "judged":
            raise RuntimeError("judged items are scored in ascore, with the judge")
        if r.get("match") == "math":
            s = mathcheck.check(answer, prompt.target, fallback=True)  # last box, else the whole answer
            s.details["type"] = "short"
            return s
        got = final_answer(answer)
        if got is None:
            return Score(0.0, None, {"type": "short"})
        golds = [prompt.target, *r.get("aliases", [])]
        ok = normalize(got) in {normalize(g) for g in golds}
        return Score(float(ok), got, {"type": "short"})


def nia_score(categories: dict[str, float], weights: dict[str, float] | None = None) -> tuple[float, str]:
    """Weighted mean of per-area scores (equal weights by default) and the arithmetic as text."""
    areas = [a for a in categories if categories[a] is not None]
    if not areas:
        raise ValueError("no area scores")
    w = {a: (weights or {}).get(a, 1.0) for a in areas}
    total = sum(w.values())
    value = sum(categories[a] * w[a] for a in areas) / total
    terms = " + ".join(f"{a} {categories[a]:.2f}×{w[a]:g}" for a in areas)
    return value, f"({terms}) / {total:g} = {value:.2f}"


BENCHMARK = NIA
