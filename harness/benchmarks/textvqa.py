"""TextVQA (validation: 5,000 questions about the text in photographs), VQA accuracy over 10 human answers.

Data: lmms-lab/textvqa rows (question_id, question, image, answers: 10 strings, ocr_tokens, ...), local parquet as
the hub ships it (the image as {"bytes", "path"}) or JSONL with `image` a file path relative to the data directory.

Prompt (lmms-eval `textvqa_val`): the image, then `question.capitalize()` followed by the task's default post prompt
(textvqa_doc_to_text in lmms_eval/tasks/textvqa/utils.py @ e39bd9316ed7e929ecf92a2981f504a0f617a755 with the
`default` kwargs of _default_template_textvqa_yaml @ 9f1909df82e3a5f9c3687ecb474f839ce50485cc, OCR reference off);
image first, then text, as lmms-eval's automatic doc_to_messages (lmms_eval/api/task.py
@ c9c33025049c9124f7c7f16d89cdccffe53489e6) builds a chat message.

Score (official): the answer and each human answer go through the EvalAI answer processor, which `normalize` follows
rule for rule (lmms_eval/tasks/_task_utils/vqa_eval_metric.py @ 61e5060b4e8611b360b037779652cd735801581c, itself
MMF's processor; the punctuation, digit/article and contraction steps are the VQA evaluation's processPunctuation /
processDigitArticle, GT-Vision-Lab/VQA vqaEval.py). Accuracy = mean over the 10 leave-one-out subsets of the other 9
answers of min(#matches / 3, 1) (textvqa_process_results, same utils.py; MMF mmf/utils/m4c_evaluators.py
TextVQAAccuracyEvaluator @ 2dc099af7ce267561e4c2ae033c27eb36be5b3ea gives the same number). An empty answer is
unparsed and scores 0.
"""

from __future__ import annotations

import re

from harness.benchmarks import vqa
from harness.benchmarks.base import Benchmark, Prompt, Sample, Score

# the EvalAI processor's tables (vqa_eval_metric.py): contractions written without their apostrophe, number words,
# articles, punctuation
CONTRACTIONS = dict(pair.split("=") for pair in """
aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've couldnt've=couldn't've
didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've hadn'tve=hadn't've hasnt=hasn't havent=haven't
hed=he'd hed've=he'd've he'dve=he'd've hes=he's howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm
Ive=I've isnt=isn't itd=it'd itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've neednt=needn't
notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at 'ow'sat='ow's'at shant=shan't
shed've=she'd've she'dve=she'd've she's=she's shouldve=should've shouldnt=shouldn't shouldnt've=shouldn't've
shouldn'tve=shouldn't've somebody'd=somebodyd somebodyd've=somebody'd've somebody'dve=somebody'd've
somebodyll=somebody'll somebodys=somebody's someoned=someone'd someoned've=someone'd've someone'dve=someone'd've
someonell=someone'll someones=someone's somethingd=something'd somethingd've=something'd've
something'dve=something'd've somethingll=something'll thats=that's thered=there'd thered've=there'd've
there'dve=there'd've therere=there're theres=there's theyd=they'd theyd've=they'd've they'dve=they'd've
theyll=they'll theyre=they're theyve=they've twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've
werent=weren't whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd wheres=where's
whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's whove=who've whyll=why'll
whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't wouldnt've=wouldn't've wouldn'tve=wouldn't've
yall=y'all yall'll=y'all'll y'allll=y'all'll yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've
youd=you'd youd've=you'd've you'dve=you'd've youll=you'll youre=you're youve=you've
""".split())
NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
NUMBERS["none"] = "0"
ARTICLES = {"a", "an", "the"}
PUNCTUATION = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
COMMA_IN_NUMBER = re.compile(r"(?<=\d)(,)+(?=\d)")
# upstream's pattern as written: `(?!<=\d)` is a lookahead for the text "<=digit" (meant as a lookbehind), so a period
# goes unless a digit follows it; upstream also passes re.UNICODE (32) where `count` goes: at most 32 are removed
PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")


def normalize(answer: str) -> str:
    """The EvalAI answer processor: lower case, ',' and '?' dropped, "'s" split off, then punctuation, numbers,
    articles and contractions."""
    text = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    text = text.replace("\n", " ").replace("\t", " ").strip()
    # punctuation: deleted where it touches a space (or the text has a comma inside a number), else a space
    out = text
    glued = COMMA_IN_NUMBER.search(text) is not None
    for p in PUNCTUATION:
        out = out.replace(p, "" if (p + " " in text or " " + p in text or glued) else " ")
    out = PERIOD.sub("", out, count=32)
    words = [NUMBERS.get(w, w) for w in out.lower().split()]
    return " ".join(CONTRACTIONS.get(w, w) for w in words if w not in ARTICLES)


def vqa_accuracy(prediction: str, answers: list[str]) -> float:
    """Mean over leaving each human answer out of min(matches among the others / 3, 1)."""
    pred = normalize(prediction)
    gold = [normalize(a) for a in answers]
    accs = [min(1.0, sum(g == pred for j, g in enumerate(gold) if j != i) / 3) for i in range(len(gold))]
    return sum(accs) / len(accs)


class TextVQA(Benchmark):
    def samples(self, rows):
        return [Sample(id=str(r["question_id"]), row=r) for r in vqa.split_rows(rows, self.spec.data.split)]

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        r = sample.row
        if not r["answers"]:
            raise ValueError("no human answers (the test split has none: use validation)")
        text = self.spec.prompt.format(question=r["question"].capitalize())
        return Prompt(messages=vqa.image_message(self.data_source, r["image"], text),
                      target=" | ".join(r["answers"]))

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        if not answer.strip():
            return Score(0.0, None)
        return Score(vqa_accuracy(answer, list(sample.row["answers"])), normalize(answer))

    async def ascore(self, sample, prompt, response, roles):
        # scored in the event loop: a few string comparisons, while the sample and prompt carry the image (sending
        # them to a scoring process would copy megabytes per item)
        return self.score(sample, prompt, response.text)


BENCHMARK = TextVQA
