"""Multiple-choice helpers: option layout and a lenient letter extraction. The cascade below is the score of
KMMLU-Pro and CLIcK; for GPQA-Diamond and KoBALT, whose authors' code accepts only one answer form, it is a
diagnostic beside the official score (`lenient_details`, `metrics.score_lenient` via `lenient_score`).

Extraction cascade (first rule that matches wins; the rule name is recorded with the sample):
  1. boxed     the last `\\boxed{X}` / `\\boxed{(X)}`
  2. marker    the last "Answer: X", "정답: X", "정답은 (X)", "답: X" (markdown bold and brackets allowed)
  3. answer_is the last "answer is (X)" / "answer is X"
  4. line      the last line that is only a letter: "(B)", "B.", "**B**"
  5. option    the last non-empty line equals one option's text (models that answer with the text)
Nothing matched: `None`, which is recorded as unparsed and scored wrong.
"""

from __future__ import annotations

import re
from collections import defaultdict
from statistics import mean
from typing import Any, Iterable

LETTERS = "ABCDEFGHIJKLMNOP"


def letters(n: int) -> str:
    return LETTERS[:n]


def format_options(options: list[str], style: str = "{letter}. {text}") -> str:
    return "\n".join(style.format(letter=LETTERS[i], text=o) for i, o in enumerate(options))


def _not_word(ls: str) -> str:
    # a letter followed by a latin letter is a word ("Because"), not an answer; Korean particles may follow ("B입니다")
    return rf"([{ls}])(?![A-Za-z])"


def _last(pattern: str, text: str, flags: int = 0) -> str | None:
    found = re.findall(pattern, text, flags)
    return found[-1] if found else None


def extract_choice(text: str, n_options: int, options: list[str] | None = None) -> tuple[str | None, str | None]:
    """(letter, rule) or (None, None)."""
    if not text:
        return None, None
    ls = letters(n_options)
    x = _not_word(ls)
    rules = [
        ("boxed", rf"\\boxed\{{\s*(?:\\text\{{)?\s*\(?{x}"),
        ("marker", rf"(?:[Aa]nswer|ANSWER|정답|답)\s*(?:은|는|:|：)?\s*[:：]?\s*[*_`$]*\s*[(\[]?\s*{x}"),
        # only the phrase ignores case: a case-blind letter would read "the answer is a prime" as A
        ("answer_is", rf"(?i:answer is)\s*[*_`$]*\s*[(\[]?\s*{x}"),
        ("line", rf"(?m)^[\s*_`#>-]*[(\[]?{x}[)\].:]?[\s*_`]*$"),
    ]
    for rule, pat in rules:
        got = _last(pat, text)
        if got:
            return got.upper(), rule
    if options:
        lines = [ln.strip(" *_`.\t") for ln in text.strip().splitlines() if ln.strip()]
        if lines:
            norm = [o.strip().rstrip(".") for o in options]
            last = lines[-1]
            last = re.sub(r"^(?:정답|답|Answer)\s*[:：]\s*", "", last, flags=re.IGNORECASE).strip(" *_`.")
            if last in norm:
                return LETTERS[norm.index(last)], "option"
    return None, None


def lenient_details(text: str, n_options: int, target: str, options: list[str] | None = None) -> dict[str, Any]:
    """The cascade above as a diagnostic beside an official score: what it reads and whether that is right."""
    letter, rule = extract_choice(text, n_options, options)
    return {"lenient": letter, "lenient_rule": rule, "lenient_correct": letter == target}


def lenient_score(items: Iterable[dict[str, Any]], key: str = "lenient_correct") -> float | None:
    """`metrics.score_lenient`: the score the lenient cascade would give (0-100), averaged like the score (mean over
    samples of each sample's mean over repeats), over the scored items (no engine or scorer error)."""
    per_sample: dict[str, list[float]] = defaultdict(list)
    for r in items:
        d = r.get("details") or {}
        if r.get("error") is None and key in d:
            per_sample[str(r["sample_id"])].append(float(bool(d[key])))
    if not per_sample:
        return None
    return round(100 * mean(mean(v) for v in per_sample.values()), 4)
