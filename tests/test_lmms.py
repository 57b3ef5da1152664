"""lmms-eval tasks through the harness (`lmms:<task>`): a real lmms-eval task (docvqa_val: images, ANLS) on local data
in the upstream schema with images drawn here, against a real local server process (harness.serve, started by the
vllm engine's launcher or reached as an openai endpoint), stored in the run directory like a native benchmark."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("lmms_eval", reason="the lmms extra: pip install --no-deps lmms-eval==0.7.3")

from conftest import read_samples  # noqa: E402
from harness.cli import app  # noqa: E402
from harness.errors import ConfigError, DataError  # noqa: E402
from harness.lmms import plan_lmms  # noqa: E402

cli = CliRunner()
HUB_ID, CONFIG = "lmms-lab-encoder/DocVQA", "DocVQA"  # docvqa_val's dataset_path / dataset_name in lmms-eval 0.7.3
# (question, gold answers, the model's reply, ANLS as lmms-eval computes it: 1 - normalised Levenshtein distance,
# 0 below 0.5; docvqa_val's metric `anls`, lmms_eval/api/metrics.py)
ROWS = [("What is the total?", ["42", "forty-two"], "42", 1.0),
        ("Who signed the letter?", ["Kim"], "Kin", 1 - 1 / 3),  # one edit in three characters: 0.667
        ("Which city is named?", ["Seoul"], "Tokyo", 0.0)]  # five edits in five: below the 0.5 threshold
EXPECTED = 100 * sum(r[3] for r in ROWS) / len(ROWS)


def _page(text: str):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (240, 80), "white")
    ImageDraw.Draw(im).text((12, 30), text, fill="black")
    return im


def docvqa_fixture(root: Path) -> tuple[Path, list[str]]:
    """<root>/<hub id>/<config>/validation.parquet in the hub's schema (HF `Image` column, the datasets feature
    metadata in the parquet file, as the hub's files carry it); returns the root and the sha256 of each image as
    lmms-eval's openai model sends it (PNG of the RGB image, lmms_eval/models/model_utils/media_encoder.py)."""
    import datasets
    from lmms_eval.models.model_utils.media_encoder import encode_image_to_base64

    feats = datasets.Features({
        "questionId": datasets.Value("string"), "question": datasets.Value("string"),
        "question_types": datasets.Sequence(datasets.Value("string")), "image": datasets.Image(),
        "docId": datasets.Value("int64"), "ucsf_document_id": datasets.Value("string"),
        "ucsf_document_page_no": datasets.Value("string"), "answers": datasets.Sequence(datasets.Value("string")),
        "data_split": datasets.Value("string")})
    rows = {"questionId": [str(49153 + i) for i in range(len(ROWS))], "question": [r[0] for r in ROWS],
            "question_types": [["form"]] * len(ROWS), "image": [_page(r[1][0]) for r in ROWS],
            "docId": [14465 + i for i in range(len(ROWS))], "ucsf_document_id": ["txpp0227"] * len(ROWS),
            "ucsf_document_page_no": ["10"] * len(ROWS), "answers": [r[1] for r in ROWS],
            "data_split": ["val"] * len(ROWS)}
    d = root / HUB_ID / CONFIG
    d.mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=feats).to_parquet(str(d / "validation.parquet"))
    back = datasets.load_dataset("parquet", data_files=str(d / "validation.parquet"))["train"]
    shas = [hashlib.sha256(base64.b64decode(encode_image_to_base64(doc["image"].convert("RGB")))).hexdigest()
            for doc in back]
    return root, shas


def rules(path: Path, shas: list[str]) -> Path:
    """The server answers a question only when the image drawn for it arrived intact."""
    path.write_text(json.dumps([{"match": q, "image_sha256": sha, "reply": reply}
                                for (q, _, reply, _), sha in zip(ROWS, shas)]))
    return path


def test_lmms_docvqa_beside_a_native_benchmark_on_the_harness_owned_server(tmp_path):
    """`harness run --benchmarks mmlu_pro,lmms:docvqa_val`: the vllm launcher starts harness.serve, lmms-eval sends
    the images, the score is lmms-eval's ANLS over the fixture, stored in one run directory and one summary with
    lmms-eval's version and task hash in the manifest; re-running the command asks nothing again."""
    root, shas = docvqa_fixture(tmp_path / "data")
    out = tmp_path / "run"
    cmd = ["run", "--benchmarks", "mmlu_pro,lmms:docvqa_val", "--limit", "3", "--engine", "vllm",
           "--model", "scripted-model", "--vllm-executable", f"{sys.executable} -m harness.serve",
           "--vllm-arg", f"--backend scripted --reply-file {rules(tmp_path / 'rules.json', shas)}",
           "--data", f"lmms:docvqa_val={root}", "--max-tokens", "16", "--no-progress", "--out", str(out)]
    r = cli.invoke(app, cmd)
    assert r.exit_code in (0, 3), r.output  # 3: mmlu_pro's scripted answers may be flagged; lmms must be valid
    s = json.loads((out / "summary.json").read_text())["benchmarks"]
    lm = s["lmms:docvqa_val"]
    assert lm["valid"], lm["invalid_reason"]
    assert lm["score"] == pytest.approx(EXPECTED, abs=1e-3) and lm["n"] == 3 and lm["error_rate"] == 0.0
    assert lm["truncation_rate"] is None and "truncation_rate" in lm["unknown_rates"]  # unknown, never 0
    assert s["mmlu_pro"]["n"] == 3  # the native benchmark in the same summary
    items = {x["sample_id"]: x for x in read_samples(out) if x["benchmark"] == "lmms:docvqa_val"}
    assert [items[str(i)]["response"] for i in range(3)] == [r[2] for r in ROWS]
    assert [items[str(i)]["score"] for i in range(3)] == pytest.approx([r[3] for r in ROWS])
    assert [items[str(i)]["image_sha256"] for i in range(3)] == [[sha] for sha in shas]  # what was sent, no bytes
    m = json.loads((out / "manifest.json").read_text())["benchmarks"]["lmms:docvqa_val"]
    assert m["module"] == "lmms" and m["lmms_eval"]["version"] == "0.7.3" and m["lmms_eval"]["task"] == "docvqa_val"
    assert len(m["task_sha256"]) == 64 and "utils.py" in m["lmms_eval"]["subtasks"]["docvqa_val"]["files"]
    assert m["data"]["kind"] == "local" and m["data"]["datasets"][0]["id"] == HUB_ID
    assert m["generation"]["max_tokens"] == 16  # the run's --max-tokens reached lmms-eval

    first = read_samples(out)
    r = cli.invoke(app, cmd)
    assert r.exit_code in (0, 3), r.output
    assert read_samples(out) == first  # nothing asked again
    r = cli.invoke(app, ["score", str(out)])  # lmms-eval's verdicts stand through a re-score
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["lmms:docvqa_val"]["score"] == lm["score"]
    r = cli.invoke(app, ["score-responses", "--benchmark", "lmms:docvqa_val", "--responses",
                         str(out / "generations.jsonl"), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "inside lmms-eval" in r.output


def test_lmms_failed_requests_are_engine_errors_and_asked_again(tmp_path, scripted_server):
    """lmms-eval answers a request that failed for good with a marker text; the harness records an engine error
    (never a wrong answer scored 0) and the next run asks again, against an openai endpoint. Each lmms-eval attempt
    is up to 3 HTTP requests (the openai client's own 2 retries on a 500): 9 failures fail all 3 documents."""
    root, shas = docvqa_fixture(tmp_path / "data")
    with scripted_server("--reply-file", str(rules(tmp_path / "rules.json", shas)), "--fail-first", "9",
                         "--fail-status", "500") as srv:
        out = tmp_path / "run"
        cmd = ["run", "--benchmarks", "lmms:docvqa_val", "--engine", "openai", "--base-url", srv.base_url,
               "--model", srv.model, "--max-retries", "1", "--concurrency", "1", "--data", f"lmms:docvqa_val={root}",
               "--no-progress", "--out", str(out)]
        r = cli.invoke(app, cmd)
        assert r.exit_code != 0, r.output
        lm = json.loads((out / "summary.json").read_text())["benchmarks"]["lmms:docvqa_val"]
        assert lm["valid"] is False and lm["error_rate"] == 1.0  # errors, not wrong answers: flagged, never a score
        assert lm["invalid_reason"].startswith("every request failed (3 of 3)")
        gens = [x for x in read_samples(out)]
        assert len(gens) == 3 and all(x["error"].startswith("[LMMS_EVAL_REQUEST_FAILED") for x in gens)

        r = cli.invoke(app, cmd)
        assert r.exit_code == 0, r.output
        lm = json.loads((out / "summary.json").read_text())["benchmarks"]["lmms:docvqa_val"]
        assert lm["score"] == pytest.approx(EXPECTED, abs=1e-3) and lm["error_rate"] == 0.0
        from urllib.request import urlopen

        stats = json.loads(urlopen(srv.base_url.removesuffix("/v1") + "/stats").read())
        assert stats["images"] >= 3 and set(shas) <= set(stats["image_sha256"])


def test_lmms_bad_names_and_missing_data_fail_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="no task or group 'docvqa_vall'.*docvqa_val"):
        plan_lmms("lmms:docvqa_vall")
    with pytest.raises(DataError, match="lmms-lab-encoder/DocVQA.*no local copy"):
        plan_lmms("lmms:docvqa_val", data_dirs=[tmp_path])
    with pytest.raises(DataError, match="not a directory"):
        plan_lmms("lmms:docvqa_val", data_override=tmp_path / "nope")
