"""Math answers: the last `\\boxed{}` decides; equivalence with the gold answer is checked by math-verify.

Extraction (`last_boxed`), as the references do it: the text from the last `\\boxed` with its braces matched,
which must read `\\boxed{...}`; its content is the answer. Sources: NeMo-Skills
`nemo_skills/evaluation/math_grader.py` `search_boxed` (NVIDIA/NeMo-Skills @
0b012df8a09cd4730d31b16e90a0d8f13d145fb8, file last changed at fa8b1b6139253d5c19033905c5444ee711f02372,
lines 117-160; `extract_answer(..., extract_from_boxed=True)` returns nothing when there is no box, lines 95-111)
and lm-eval `lm_eval/tasks/hrm8k/default/utils.py` `parse_math_answer` (`last_boxed_only_string` + `remove_boxed`,
lm-eval 0.4.13). An earlier box never counts: "\\boxed{70} or \\boxed{49}" answers 49 (math-verify alone would read
both boxes as the set {70, 49}, which equals no single gold answer).
Equivalence: math-verify on that one box (`\\boxed{content}` parsed alone), so `070`, `\\frac{3}{4}` vs `0.75`,
`x=4` vs `4` are decided symbolically. (NeMo-Skills compares normalised strings first and then calls math-verify;
lm-eval's HRM8K compares normalised strings only: see hrm8k.py for that verdict as a diagnostic.)
No box: `fallback=False` (AIME, as NeMo-Skills) extracts nothing: unparsed, 0; `fallback=True` (HRM8K, whose lm-eval
reference falls back to the last `$...$` or number) lets math-verify read final-line answers and the last expression
of the whole text.
`lenient`: today's whole-text math-verify reading (boxes first, several boxes as a set, else final-line answers and
the last expression), kept as a diagnostic beside the score.
"""

from __future__ import annotations

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from harness.benchmarks.base import Score

_PRED = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
_GOLD = [LatexExtractionConfig(), ExprExtractionConfig()]


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (braces matched), or None: no `\\boxed`, or the last one is not
    followed by `{` or never closes."""
    idx = (text or "").rfind("\\boxed")
    if idx < 0:
        return None
    depth = 0
    for i in range(idx, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                whole = text[idx:i + 1]
                return whole[len("\\boxed{"):-1] if whole.startswith("\\boxed{") else None
    return None


def parse_gold(answer: str):
    gold = parse(f"${answer}$", extraction_config=_GOLD) or parse(str(answer), extraction_config=_GOLD)
    if not gold:
        raise ValueError(f"gold answer {answer!r} cannot be parsed")
    return gold


def _verdict(text: str, gold) -> tuple[bool, str | None]:
    pred = parse(text, extraction_config=_PRED)
    if not pred:
        return False, None
    return bool(verify(gold, pred)), str(pred[-1])


def lenient(answer_text: str, gold_answer: str) -> tuple[bool, str | None]:
    """(correct, extracted) as math-verify reads the whole text (the pre-fidelity rule)."""
    return _verdict(answer_text or "", parse_gold(gold_answer))


def check(answer_text: str, gold_answer: str, fallback: bool = False) -> Score:
    gold = parse_gold(gold_answer)
    box = last_boxed(answer_text or "")
    details: dict = {"gold": gold_answer}
    if box is not None:
        ok, extracted = _verdict(f"\\boxed{{{box}}}", gold)
        details["rule"] = "last_boxed"
        # a box math-verify cannot read is still the model's answer: recorded as written, scored 0
        return Score(float(ok), extracted if extracted is not None else box, details)
    if not fallback:
        details["rule"] = None
        return Score(0.0, None, details)
    ok, extracted = _verdict(answer_text or "", gold)
    details["rule"] = "no_box" if extracted is not None else None
    return Score(float(ok), extracted, details)
