"""AA-LCR (Artificial Analysis Long Context Reasoning, v2): 100 questions, each over a set of documents of about
100k tokens, judged by an LLM equality checker.

Data: rows `question`, `answer`, `context` (the documents already laid out as "BEGIN DOCUMENT i: … END DOCUMENT i").
Sample ids are the 0-based row index (upstream has no id column). Category: none.
Prompt: the documented layout — BEGIN INPUT DOCUMENTS / the documents / END INPUT DOCUMENTS / the instruction /
START QUESTION / the question / END QUESTION (options.prompt).
Judge: the equality-checker prompt (question for reference, OFFICIAL ANSWER, CANDIDATE ANSWER; "Reply only with
CORRECT or INCORRECT"). The verdict is the reply (or its last line) once whitespace, markdown, quotes and a final
period are stripped; it must then be exactly one of the two words. Anything else ("partially correct") is an
unparseable verdict: an error, not a wrong answer.
Context: the YAML sets `check_context`, so the runner counts the prompt's tokens with the engine's tokenizer and
refuses, before sending, a prompt that cannot fit the engine's maximum context with max_tokens on top.
"""

from __future__ import annotations

from harness.benchmarks import judging
from harness.benchmarks.base import Benchmark, Prompt, Roles, Sample, Score, user
from harness.engine.base import Response


class AALCR(Benchmark):
    roles = ("judge",)

    def samples(self, rows):
        for i, r in enumerate(rows):
            if not (r["question"].strip() and r["answer"].strip() and r["context"].strip()):
                raise ValueError(f"aa_lcr: row {i} has an empty question, answer or context")
        return [Sample(id=str(i), row=r) for i, r in enumerate(rows)]

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r = sample.row
        text = self.spec.prompt.format(documents=r["context"].strip(), question=r["question"].strip())
        return Prompt(user(text), target=r["answer"].strip(), meta={"context_chars": len(r["context"])})

    def prefix_key(self, sample: Sample) -> str | None:
        import hashlib

        return hashlib.sha256(sample.row["context"].strip().encode()).hexdigest()[:16]  # questions over one document set

    async def ascore(self, sample: Sample, prompt: Prompt, response: Response, roles: Roles) -> Score:
        if not response.text.strip():
            return Score(0.0, None, {"verdict": None})  # nothing to judge: unparsed, scored 0 without a call
        judge_prompt = self.spec.options["judge_prompt"].format(
            question=sample.row["question"].strip(), official_answer=prompt.target, candidate_answer=response.text)
        verdict = await judging.ask(roles, judge_prompt, judging.judge_params(self.spec.options))
        if (bad := judging.failed(verdict)) is not None:
            return bad
        details = {"judge_raw": verdict.text[:500], "judge_cached": verdict.extra.get("cached", False)}
        word = judging.verdict_word(verdict.text)
        if word in ("CORRECT", "INCORRECT"):
            return Score(float(word == "CORRECT"), response.text[:500], {**details, "verdict": word})
        return Score(None, None, details, error=f"judge verdict unparseable: {verdict.text[:200]!r}")


BENCHMARK = AALCR
