"""Images in requests and the native vision benchmarks (TextVQA, DocVQA).

The images are drawn here (PIL text on a canvas); the data is written in the upstream schemas (lmms-lab/textvqa as
parquet with the Image feature's {"bytes", "path"} struct, lmms-lab/DocVQA as JSONL with image files), since the real
sets are not available. Requests go to real server processes (harness.serve, through the openai engine and through the
vllm engine's launcher) and to a tiny randomly initialised LLaVA built here, in-process and behind harness.serve.
Metric values are computed by hand from the upstream rules named in each test.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SERVE, read_samples

from harness import images
from harness.benchmarks.docvqa import anls
from harness.benchmarks.textvqa import normalize, vqa_accuracy
from harness.config import GenerationParams, ModelSpec
from harness.engine.base import Request
from harness.engine.vllm import serve_command

GEN = GenerationParams(max_tokens=16, temperature=0.0)


def draw(text: str, size=(160, 64)) -> bytes:
    """A PNG of black text on a white canvas."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((8, size[1] // 3), text, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def user(text: str, *pictures: bytes) -> list[dict]:
    return [{"role": "user", "content": [*(images.image_part(p) for p in pictures), images.text_part(text)]}]


# ---- fixture data in the upstream schemas -------------------------------------------------------------------------

# (question_id, question, text drawn, 10 human answers, the scripted model's answer, its VQA accuracy by hand)
TEXTVQA = [
    (34602, "what brand is on the can?", "COCA-COLA", ["coca cola", "coca cola", "Coca-Cola"] + ["pepsi"] * 7,
     "COCA-COLA!", 0.9),  # 3 of 10 match: 3 subsets with 2 others (2/3), 7 with 3 (1) -> (2 + 7) / 10
    (34603, "how many lanes?", "2 LANES", ["2", "two"] + ["3"] * 8, "the Two", 0.6),  # 2 match: (2/3 + 8*2/3)/10
    (34604, "what drink is advertised?", "DR. PEPPER", ["dr pepper"] + ["pepper"] * 9, "Dr. Pepper.", 0.3),
]
# (questionId, question, text drawn, answers, the scripted model's answer, its ANLS by hand)
DOCVQA = [
    ("49153", "What is the company name?", "ACME corp.", ["ACME corp."], "Acme Corp", 0.9),  # 1 edit / 10 chars
    ("57349", "What is the total?", "TOTAL $1,250", ["$1,250", "1250"], "$1,205", 2 / 3),  # 2 edits / 6 chars
    ("24580", "Who signed the letter?", "J. Smith", ["J. Smith"], "Dr. K. Jones", 0.0),  # under 0.5
]


def write_textvqa(root: Path) -> dict[int, bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pics = {qid: draw(text) for qid, _, text, *_ in TEXTVQA}
    rows = [{"image_id": f"img{qid}", "question_id": qid, "question": q, "question_tokens": q.rstrip("?").split(),
             "image": {"bytes": pics[qid], "path": f"img{qid}.png"}, "image_width": 160, "image_height": 64,
             "flickr_original_url": "", "flickr_300k_url": "", "answers": answers, "image_classes": ["Sign"],
             "set_name": "val", "ocr_tokens": text.split()}
            for qid, q, text, answers, *_ in TEXTVQA]
    d = root / "textvqa" / "validation"
    d.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), d / "validation-00000-of-00001.parquet")
    # a snapshot of the hub repository holds the other splits beside it (test: no answers): never asked
    other = [{**rows[0], "question_id": 1, "answers": ["x"] * 10}, {**rows[0], "question_id": 2, "answers": []}]
    pq.write_table(pa.Table.from_pylist(other[:1]), d / "train-00000-of-00001.parquet")
    pq.write_table(pa.Table.from_pylist(other[1:]), d / "test-00000-of-00001.parquet")
    return pics


def write_docvqa(root: Path) -> dict[str, bytes]:
    d = root / "docvqa" / "validation"
    (d / "documents").mkdir(parents=True)
    pics = {}
    with open(d / "validation.jsonl", "w") as f:
        for i, (qid, q, text, answers, *_) in enumerate(DOCVQA):
            pics[qid] = draw(text, (240, 120))
            (d / "documents" / f"doc{i}.png").write_bytes(pics[qid])
            f.write(json.dumps({"questionId": qid, "question": q, "question_types": ["form"],
                                "image": f"documents/doc{i}.png", "docId": 1000 + i, "ucsf_document_id": f"u{i}",
                                "ucsf_document_page_no": "1", "answers": answers, "data_split": "val"}) + "\n")
    (d / "test.jsonl").write_text(json.dumps({"questionId": "1", "question": "q", "image": "documents/doc0.png",
                                              "answers": [], "data_split": "test"}) + "\n")
    return pics


@pytest.fixture
def vision_data(tmp_path):
    root = tmp_path / "data"
    tv, dv = write_textvqa(root), write_docvqa(root)
    rules = [{"image_sha256": sha(tv[qid]), "reply": reply} for qid, _, _, _, reply, _ in TEXTVQA]
    rules += [{"image_sha256": sha(dv[qid]), "reply": reply} for qid, _, _, _, reply, _ in DOCVQA]
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    return root, tmp_path / "rules.json", tv, dv


# ---- metrics against hand-computed values -------------------------------------------------------------------------

def test_textvqa_normalisation_and_vqa_accuracy_follow_the_evalai_processor():
    """lmms-eval lmms_eval/tasks/_task_utils/vqa_eval_metric.py @ 61e5060 (EvalAIAnswerProcessor, MMF's) and
    textvqa_process_results (lmms_eval/tasks/textvqa/utils.py @ e39bd93)."""
    assert normalize("COCA-COLA!") == "coca cola"  # '-' and '!' touch no space: each becomes a space
    assert normalize("yes / no") == "yes no"  # '/' next to a space is deleted
    assert normalize("the Two") == "2" and normalize("an apple") == "apple"  # number words, articles
    assert normalize("Dr. Pepper.") == "dr pepper"  # a period not followed by a digit goes
    assert normalize("3.5") == "3.5" and normalize("1,000") == "1000"  # ... one before a digit stays; commas go
    assert normalize("dont") == "don't" and normalize("Its") == "its"  # contractions table, as written upstream
    assert normalize("it's open?") == "it 's open"  # "'s" split off, '?' dropped
    for _, _, _, answers, reply, expected in TEXTVQA:
        assert vqa_accuracy(reply, answers) == pytest.approx(expected)
    assert vqa_accuracy("dont", ["don't"] * 3 + ["no"] * 7) == pytest.approx(0.9)
    assert vqa_accuracy("1,000", ["1000"] * 10) == 1.0
    assert vqa_accuracy("3.5", ["35"] * 10) == 0.0
    assert vqa_accuracy("stop", ["stop"] + ["go"] * 9) == pytest.approx(0.3)  # 1 match: 9 subsets at 1/3


def test_docvqa_anls_threshold_and_upstream_length_rule():
    """lmms-eval lmms_eval/api/metrics.py @ 309242c `anls` (the DocVQA challenge's script)."""
    assert anls("Acme Corp", ["ACME corp."]) == pytest.approx(0.9)
    assert anls("  total   due ", ["Total Due"]) == 1.0  # stripped, lower-cased, whitespace collapsed
    assert anls("abcd", ["abxy"]) == 0.5  # exactly at the threshold: kept
    assert anls("abcde", ["abxyz"]) == 0.0  # 1 - 3/5 = 0.4 < 0.5
    assert anls("1990", ["1989", "1990s"]) == pytest.approx(0.8)  # the closest gold answer counts
    # the distance is over the normalised strings but divided by the longer *raw* length: " ab " vs "ac" is 1 / 4
    assert anls(" ab ", ["ac"]) == pytest.approx(0.75)
    for _, _, _, answers, reply, expected in DOCVQA:
        assert anls(reply, answers) == pytest.approx(expected)


# ---- requests with images through engines and servers -------------------------------------------------------------

def test_openai_engine_sends_images_the_server_decodes_checks_and_counts(tmp_path, scripted_server):
    from harness.engine.openai import OpenAIEngine

    red, blue = draw("RED"), draw("BLUE")
    (tmp_path / "rules.json").write_text(json.dumps([{"image_sha256": sha(red), "reply": "red sign"},
                                                     {"match": "two", "reply": "two pictures"}]))

    async def go(srv):
        eng = OpenAIEngine(ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url, max_retries=0))
        await eng.start(tmp_path)
        try:
            one = await eng.generate(Request(user("What does it say?", red), GEN))
            other = await eng.generate(Request(user("What does it say?", blue), GEN))
            bad_b64 = [{"role": "user", "content": [{"type": "image_url", "image_url": {
                "url": "data:image/png;base64,@@not-base64@@"}}, images.text_part("x")]}]
            not_image = user("x")
            not_image[0]["content"].insert(0, images.image_part(b"plain text, not an image"))
            bad = await eng.generate(Request(bad_b64, GEN))
            unreadable = await eng.generate(Request(not_image, GEN))
            too_many = await eng.generate(Request(user("two", red, blue), GEN))
            counted = await eng.client.count_tokens(user("What does it say?", red))
            return one, other, bad, unreadable, too_many, counted
        finally:
            await eng.close()

    import aiohttp

    with scripted_server("--reply-file", str(tmp_path / "rules.json"), "--limit-mm-per-prompt", '{"image": 1}') as srv:
        one, other, bad, unreadable, too_many, counted = asyncio.run(go(srv))

        async def stats():
            async with aiohttp.ClientSession() as s:
                async with s.get(srv.base_url.removesuffix("/v1") + "/stats") as r:
                    return await r.json()

        st = asyncio.run(stats())
    assert one.error is None and one.text == "red sign"  # the rule keyed on the red image's bytes
    assert other.error is None and other.text != "red sign"
    assert bad.error and "HTTP 400" in bad.error and "base64" in bad.error
    assert unreadable.error and "HTTP 400" in unreadable.error and "cannot be decoded" in unreadable.error
    assert too_many.error and "At most 1 image(s) may be provided in one prompt" in too_many.error
    assert counted == 4 + 64  # /tokenize: 4 words + one image (IMAGE_TOKENS)
    assert st["images"] == 2 and st["image_sha256"] == [sha(red), sha(blue)]  # refused requests count nothing
    assert st["limit_mm_per_prompt"] == {"image": 1}


def test_serve_command_asks_vllm_for_the_plans_images_and_keeps_an_explicit_limit():
    spec = ModelSpec(engine="vllm", model="m")
    assert "--limit-mm-per-prompt" not in serve_command(spec, 8000)
    cmd = serve_command(spec, 8000, 2)
    assert cmd[cmd.index("--limit-mm-per-prompt") + 1] == '{"image": 2}'
    own = spec.model_copy(update={"extra_args": ["--limit-mm-per-prompt", '{"image": 5}']})
    assert serve_command(own, 8000, 2).count("--limit-mm-per-prompt") == 1


def test_textvqa_and_docvqa_run_end_to_end_through_the_cli_and_the_vllm_launcher(tmp_path, vision_data):
    """`harness run --benchmarks textvqa,docvqa` with the vllm engine starting harness.serve: the launcher passes
    --limit-mm-per-prompt (the stand-in enforces it), the server answers by the image it decoded, the records keep each
    image's sha256 and not its bytes, and the scores are the hand-computed ones."""
    root, rules, tv, dv = vision_data
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", "--benchmarks", "textvqa,docvqa", "--engine", "vllm",
           "--model", "vlm", "--vllm-executable", " ".join(SERVE), "--vllm-arg", f"--backend scripted --reply-file {rules}",
           "--data-dir", str(root), "--out", str(out), "--no-progress"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    command = manifest["engine"]["command"]
    assert command[command.index("--limit-mm-per-prompt") + 1] == '{"image": 1}'
    log = (out / "server.log").read_text()
    assert "--limit-mm-per-prompt" in log.split("=== server pid")[0]
    assert not [line for line in log.splitlines() if line.startswith("ignoring") and "limit-mm" in line]

    recs = {(r["benchmark"], r["sample_id"]): r for r in read_samples(out)}
    assert len(recs) == 6
    for qid, _, _, _, reply, expected in TEXTVQA:
        r = recs[("textvqa", str(qid))]
        assert r["error"] is None and r["response"] == reply
        assert r["image_sha256"] == [sha(tv[qid])] and r["score"] == pytest.approx(expected)
    for qid, _, _, _, reply, expected in DOCVQA:
        r = recs[("docvqa", qid)]
        assert r["image_sha256"] == [sha(dv[qid])] and r["score"] == pytest.approx(expected)
    generations = (out / "generations.jsonl").read_text()
    assert images.data_url(tv[34602]).split(",")[1][:64] not in generations  # the bytes are not stored
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]
    assert summary["textvqa"]["score"] == pytest.approx(100 * (0.9 + 0.6 + 0.3) / 3)
    assert summary["docvqa"]["score"] == pytest.approx(100 * (0.9 + 2 / 3 + 0.0) / 3)
    assert summary["textvqa"]["metric"].startswith("VQA accuracy")


def test_vision_rows_without_their_image_fail_before_any_request(tmp_path, vision_data):
    from harness import runner
    from harness.config import SuiteEntry
    from harness.errors import DataError

    root, *_ = vision_data
    (root / "docvqa" / "validation" / "documents" / "doc1.png").unlink()
    with pytest.raises(DataError, match="sample '57349'.*doc1.png"):
        runner.plan_benchmarks([SuiteEntry(name="docvqa")], ModelSpec(engine="openai", model="m"), data_dirs=[root])


# ---- the hf engine: a tiny random vision-language model ---------------------------------------------------------

def tiny_vlm(path: Path, vision: bool = True) -> Path:
    """A 2-layer random LLaVA (CLIP vision tower 28x28 pixels in 14-pixel patches: 4 patch tokens + CLS per image) with a
    byte-level BPE tokenizer trained here and a chat template that puts <image> where an image part is; with
    vision=False the same Llama alone (a text-only model). For plumbing, not for answers."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlamaForCausalLM,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    text = [q for _, q, *_ in TEXTVQA + DOCVQA] * 10 + ["user assistant answer the question"] * 10
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>", "<image>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    template = ("{% for m in messages %}{{ m['role'] }}: {% if m['content'] is string %}{{ m['content'] }}{% else %}"
                "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
                "{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    fast.chat_template = template
    torch.manual_seed(0)
    llama = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    if not vision:
        fast.save_pretrained(path)
        LlamaForCausalLM(llama).save_pretrained(path)
        return path
    LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}),
                   tokenizer=fast, patch_size=14, vision_feature_select_strategy="full", chat_template=template,
                   num_additional_image_tokens=1).save_pretrained(path)
    clip = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                            image_size=28, patch_size=14, projection_dim=32)
    LlavaForConditionalGeneration(LlavaConfig(vision_config=clip, text_config=llama,
                                              image_token_id=fast.convert_tokens_to_ids("<image>"),
                                              vision_feature_select_strategy="full", vision_feature_layer=-1)
                                  ).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def vlm(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


def test_hf_engine_puts_images_through_the_processor_and_the_vision_tower(tmp_path, vlm):
    from harness.engine.hf import HFEngine

    seen = []

    async def go():
        eng = HFEngine(ModelSpec(engine="hf", model=str(vlm), batch_size=4))
        await eng.start(tmp_path)
        try:
            eng.model.model.vision_tower.register_forward_hook(
                lambda _m, args, _out: seen.append(tuple(args[0].shape)))
            with_image = await eng.count_tokens(user("what is written?", draw("STOP")))
            without = await eng.count_tokens([{"role": "user", "content": "what is written?"}])
            batch = await asyncio.gather(*(eng.generate(Request(user("what is written?", draw(t)), GEN))
                                           for t in ("STOP", "GO")))
            text_only = await eng.generate(Request([{"role": "user", "content": "what is written?"}], GEN))
            return with_image, without, batch, text_only
        finally:
            await eng.close()

    with_image, without, batch, text_only = asyncio.run(go())
    assert with_image - without == 5  # <image> expanded to 4 patches + CLS by the processor
    assert all(r.error is None and r.completion_tokens for r in batch) and text_only.error is None
    assert all(r.prompt_tokens == with_image for r in batch)
    assert (2, 3, 28, 28) in seen  # both images of the batch went through the vision tower, resized by the processor


def test_hf_text_only_model_refuses_images_with_a_clear_error(tmp_path):
    pytest.importorskip("transformers")
    from harness.engine.hf import HFEngine
    from harness.errors import EngineError

    path = tiny_vlm(tmp_path / "text-llama", vision=False)

    async def go():
        eng = HFEngine(ModelSpec(engine="hf", model=str(path)))
        await eng.start(tmp_path)
        try:
            assert eng.processor is None
            await eng.generate(Request(user("what is written?", draw("STOP")), GEN))
        finally:
            await eng.close()

    with pytest.raises(EngineError, match="text-only model and this prompt carries images"):
        asyncio.run(go())


def test_tiny_vlm_behind_the_vllm_launcher_answers_textvqa(tmp_path, vlm, vision_data):
    """The whole path with a real (tiny) vision model: the vllm engine starts harness.serve with the hf backend, which
    runs the image through the model's processor."""
    root, *_ = vision_data
    spec = ModelSpec(engine="vllm", model=str(vlm), executable=SERVE, startup_timeout=300, concurrency=2)
    out = tmp_path / "run"
    from harness import runner
    from harness.config import SuiteEntry
    from harness.engine import make_engine

    plans = runner.plan_benchmarks([SuiteEntry(name="textvqa")], spec, limit=2, generation=GEN, data_dirs=[root])
    summary = runner.run(plans, spec, make_engine(spec), runner.RunOptions(out=out, run_id="vlm"))
    recs = read_samples(out)
    assert len(recs) == 2 and all(r["error"] is None and r["image_sha256"] for r in recs)
    assert all(r["prompt_tokens"] > 5 for r in recs)  # counted by the processor, image tokens included
    assert summary["benchmarks"]["textvqa"]["n"] == 2


def test_vllm_takes_the_image_command_line_and_request_bodies(tmp_path, vision_data):
    """vLLM 0.33.0's own parser, pre-start checks and ChatCompletionRequest model (tests/vllm_contract/check.py)
    judge the `vllm serve` line of a vision run and the request bodies TextVQA and DocVQA send; skipped without vLLM
    (scripts/vllm-contract.sh builds an environment with it)."""
    from test_vllm_contract import CHECK, vllm_python

    py = vllm_python()
    if py is None:
        pytest.skip("vLLM is not importable (scripts/vllm-contract.sh)")
    from harness import runner
    from harness.config import SuiteEntry
    from harness.engine.client import ChatClient

    root, *_ = vision_data
    spec = ModelSpec(engine="vllm", model="Qwen/Qwen2.5-VL-7B-Instruct")
    plans = runner.plan_benchmarks([SuiteEntry(name="textvqa"), SuiteEntry(name="docvqa")], spec, data_dirs=[root])
    most = max(p.images_per_prompt for p in plans)
    client = ChatClient("http://127.0.0.1:1/v1", spec.model)
    bodies = [client.body(Request(p.benchmark.prompt(s, 0).messages, p.params)) for p in plans for s in p.samples]
    # vLLM's argument checks look the model id up on the hub; with HF_HUB_OFFLINE (set for every test here) that
    # lookup fails for any id, while without it an unreachable hub is tolerated
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    p = subprocess.run([py, str(CHECK)], input=json.dumps({"commands": [serve_command(spec, 8000, most)],
                                                           "requests": bodies}),
                       capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    out = json.loads(p.stdout)
    assert most == 1 and len(bodies) == 6
    assert all(v["ok"] for v in out["commands"] + out["requests"]), out
