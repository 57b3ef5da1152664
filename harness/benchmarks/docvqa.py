"""DocVQA (validation: 5,349 questions on 1,286 scanned document pages), ANLS with threshold 0.5.

Data: lmms-lab/DocVQA, config DocVQA, rows (questionId, question, question_types, image, docId, ucsf_document_id,
ucsf_document_page_no, answers, data_split), local parquet as the hub ships it or JSONL with `image` a file path
relative to the data directory.

Prompt (lmms-eval `docvqa_val`): the image, then the question followed by the default post prompt
(docvqa_doc_to_text in lmms_eval/tasks/docvqa/utils.py @ c3e796542029c8dd9148dc0351e9657a2cac326c, `default` kwargs
of docvqa_val.yaml @ 9dd4344c1c191746057decdfd2ccbc92a8aad703); image first, then text, as lmms-eval's automatic
doc_to_messages builds a chat message (lmms_eval/api/task.py @ c9c33025049c9124f7c7f16d89cdccffe53489e6).

Score (official): ANLS as the DocVQA challenge's evaluation computes it, in lmms-eval's `anls`
(lmms_eval/api/metrics.py @ 309242ce1a4ea1a89e37798a61d4e79201f734f5, which names Qwen-VL's
eval_mm/infographicsvqa_eval.py, the RRC script): answer and each gold answer stripped, lower-cased and their
whitespace collapsed; the Levenshtein distance of those, divided by the longer of the two *unnormalised* strings'
lengths (as upstream: `len(answer.upper())`, `len(pred.upper())`); the question's score is 1 - the smallest such
distance over the gold answers, and 0 when that is below 0.5. An empty answer is unparsed and scores 0.
"""

from __future__ import annotations

from harness.benchmarks import vqa
from harness.benchmarks.base import Benchmark, Prompt, Sample, Score

THRESHOLD = 0.5


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def anls(prediction: str, answers: list[str], threshold: float = THRESHOLD) -> float:
    pred = " ".join(prediction.strip().lower().split())
    distances = []
    for answer in answers:
        gold = " ".join(answer.strip().lower().split())
        length = max(len(answer.upper()), len(prediction.upper()))
        distances.append(0.0 if length == 0 else levenshtein(gold, pred) / length)
    score = 1 - min(distances)
    return 0.0 if score < threshold else score


class DocVQA(Benchmark):
    def samples(self, rows):
        return [Sample(id=str(r["questionId"]), row=r) for r in vqa.split_rows(rows, self.spec.data.split)]

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r = sample.row
        if not r["answers"]:
            raise ValueError("no gold answers (the test split has none: use validation)")
        text = self.spec.prompt.format(question=r["question"])
        return Prompt(messages=vqa.image_message(self.data_source, r["image"], text),
                      target=" | ".join(r["answers"]))

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        if not answer.strip():
            return Score(0.0, None)
        return Score(anls(answer, list(sample.row["answers"])), answer)

    async def ascore(self, sample, prompt, response, roles):
        # scored in the event loop: the sample and prompt carry the page image, which a scoring process would copy
        return self.score(sample, prompt, response.text)


BENCHMARK = DocVQA
