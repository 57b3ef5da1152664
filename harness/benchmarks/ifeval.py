"""IFEval (google/IFEval): 541 prompts with verifiable instructions (25 instruction types).

Data: Google's `instruction_following_eval/data/input_data.jsonl` (google-research/google-research @
26d8ccdab6fec61b5c83ad6327ea8bda9e580288), the same rows as the hub's google/IFEval; `../shared/data/ifeval/test.jsonl`.
Variant: zero-shot; the upstream `prompt` is the whole user message. Sample ids are the upstream `key`.
Checkers: lm-eval's IFEval implementation (`lm_eval.tasks.ifeval`, pinned lm-eval version) is the reference and is
called as is: `test_instruction_following_strict` / `_loose` on the answer (reasoning removed, whitespace kept: the
checkers are whitespace-sensitive). Loose = the
instruction passes on any of the response, the response without its first line, without its last line, without
both, each also with `*` removed. Sentence counting runs offline (harness/benchmarks/instructions.py).
Score (per item): prompt-level **strict** (1 when every instruction is followed), the programme's reported number.
Details carry instruction-level and loose verdicts; `metrics` gives prompt/instruction-level strict/loose.
`extracted` is a verdict marker ("strict 2/3, loose 3/3"); an empty response is unparsed (None) and scores 0.
Deliberate departure (the only one): the checks of an item run under `random.seed(meta.seed)`, the item's seed. The
reference's `keywords:letter_frequency` picks a random letter where the data's `letter` is not a letter
(lm_eval/tasks/ifeval/instructions.py, LetterFrequencyChecker.build_description, `random.choice(list(
string.ascii_letters))`; Google's instruction_following_eval/instructions.py has the same line): items 1122 (`#`)
and 1129 (`!`). Unseeded, identical responses scored 76.71-77.08 across runs; seeded, rescoring gives one score.
"""

from __future__ import annotations

from harness.benchmarks.base import Prompt, Sample, Score
from harness.benchmarks.instructions import (InstructionBenchmark, nltk_from_data_dirs, seeded, setup_nltk,
                                             verdict_details, verdict_marker)
from harness.errors import ConfigError


def reference():
    """lm-eval's IFEval utils module, imported after the offline NLTK set-up (it looks for punkt_tab on import)."""
    setup_nltk()
    try:
        from lm_eval.tasks.ifeval import utils
    except ImportError as e:
        raise ConfigError(f"ifeval needs lm-eval's checkers: pip install 'lm-eval[ifeval]==0.4.13' ({e})") from None
    return utils


class IFEval(InstructionBenchmark):
    upstream = "google/IFEval"
    reference = staticmethod(reference)

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        nltk_from_data_dirs(self.data_source)
        ref = reference()
        r = sample.row
        inp = ref.InputExample(key=r["key"], instruction_id_list=r["instruction_id_list"], prompt=r["prompt"],
                               kwargs=r["kwargs"])
        seed = prompt.meta.get("seed")
        with seeded(seed):  # the one departure: Google's random letter choice, seeded per item
            strict = ref.test_instruction_following_strict(inp, answer)
        with seeded(seed):
            loose = ref.test_instruction_following_loose(inp, answer)
        details = verdict_details(r["instruction_id_list"], strict.follow_instruction_list,
                                  loose.follow_instruction_list)
        extracted = verdict_marker(details) if answer.strip() else None
        return Score(float(details["strict_prompt"]), extracted, details)



BENCHMARK = IFEval
