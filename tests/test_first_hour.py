"""The first hour on CPU (issue 16, items 1 and 2): budgets that fit the engine, progress that tells the truth on a
slow engine, and interrupts that stop within seconds and say how to resume. Real `harness run` subprocesses with the
hf engine, on the embedded SmolLM2-135M GGUF or on a tiny random Llama built here that never ends an answer (its
end-of-sequence logit is held at zero), so that an answer runs exactly as long as its budget."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import SHARED_DATA

pytest.importorskip("transformers")
HARNESS = [sys.executable, "-m", "harness.cli"]
# one torch thread: on a loaded 2-core machine the tiny model's steps are ~8x faster than with two (measured: 5.7 vs
# 45 ms per token), and the tests only need its answers to be long in tokens
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
needs_mmlu = pytest.mark.skipif(not (SHARED_DATA / "mmlu_pro").is_dir(), reason="real MMLU-Pro data not found")
pytestmark = needs_mmlu


def never_stopping_llama(path: Path, context: int) -> Path:
    """A 1-layer random Llama with a byte-level BPE tokenizer trained here on MMLU-Pro questions and a chat template;
    its lm_head row for </s> is zero, so greedy decoding never picks it (some other logit is positive)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    text = []
    with gzip.open(SHARED_DATA / "mmlu_pro" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            text.append(r["question"] + " " + " ".join(r["options"]))
            if len(text) == 300:
                break
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
                          "{% if add_generation_prompt %}<s>assistant\n{% endif %}")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=context,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight[fast.eos_token_id] = 0
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def endless(tmp_path_factory) -> Path:
    """The never-stopping tiny Llama with a long context (65,536)."""
    return never_stopping_llama(tmp_path_factory.mktemp("endless"), 65536)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


class Harness:
    """A `harness run` subprocess whose stderr is read as it comes (a pipe: not a terminal, as in a batch log)."""

    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([*HARNESS, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **ONE_THREAD, **(env or {})})
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, d), daemon=True)
                         for s, d in ((self.proc.stderr, self.err), (self.proc.stdout, self.out))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, predicate, deadline_s: float = 600) -> None:
        """Wait until `predicate(stderr lines)` holds (a deadline against a hang, not a speed assertion)."""
        end = time.monotonic() + deadline_s
        while not predicate(list(self.err)):
            if self.proc.poll() is not None:
                time.sleep(0.5)  # let the readers drain
                if predicate(list(self.err)):
                    return
                pytest.fail(f"harness exited ({self.proc.returncode}) before the expected output:\n{self.stderr}")
            if time.monotonic() > end:
                self.proc.kill()
                pytest.fail(f"no expected output within {deadline_s} s:\n{self.stderr}")
            time.sleep(0.2)

    def finish(self, timeout: float) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=10)
        return rc


def timer_lines(lines: list[str]) -> list[str]:
    return [x for x in lines if x.startswith("progress: all 0/")]


def test_budget_is_cut_to_the_context_left_after_the_prompt_and_recorded(tmp_path):
    """A model of 1,024 positions asked for 5,000 tokens: each request gets context - prompt (the answer then runs
    exactly that long: the model never stops), the record keeps the 5,000 it was cut from, and the run says so once
    for the benchmark before it starts."""
    model = never_stopping_llama(tmp_path / "short", 1024)
    out = tmp_path / "run"
    h = Harness("--engine", "hf", "--model", str(model), "--benchmarks", "mmlu_pro", "--limit", "3",
                "--max-tokens", "5000", "--out", str(out))
    rc = h.finish(timeout=900)
    assert rc == 3, h.stderr  # every answer is cut: invalid (truncation), but complete
    gens = read_jsonl(out / "generations.jsonl")
    assert len(gens) == 3
    for g in gens:
        assert g["error"] is None and g["finish_reason"] == "length"
        assert g["max_tokens_clamped_from"] == 5000
        assert g["request"]["max_tokens"] == 1024 - g["prompt_tokens"] == g["completion_tokens"]
    notes = [x for x in h.err if x.startswith("note: mmlu_pro: 3 of 3 items leave less than max_tokens 5,000")]
    assert len(notes) == 1, h.stderr
    assert "context of 1,024 tokens" in notes[0] and "max_tokens_clamped_from" in notes[0]


def test_embedded_model_without_settings_answers_with_the_smoke_budget_and_says_so(tmp_path):
    """`harness run --benchmarks mmlu_pro` on the embedded SmolLM2 GGUF: the smoke suite's greedy 256-token budget,
    not MMLU-Pro's production settings, with a note; explicit settings are kept as given."""
    pytest.importorskip("gguf")
    out = tmp_path / "run"
    h = Harness("--benchmarks", "mmlu_pro", "--limit", "1", "--out", str(out))
    h.finish(timeout=900)
    assert "note: the embedded smollm2-135m is a plumbing check on CPU" in h.stderr, h.stderr
    assert "temperature 0.0, max_tokens 256" in h.stderr
    (g,) = read_jsonl(out / "generations.jsonl")
    assert g["request"]["max_tokens"] == 256 and g["request"]["temperature"] == 0.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["benchmarks"]["mmlu_pro"]["generation"]["max_tokens"] == 256


def test_long_run_on_the_embedded_model_is_estimated_progress_is_on_a_timer_and_sigterm_says_how_to_resume(
        tmp_path):
    """Ten items of up to 8,192 tokens on the embedded model: an estimate before the run (from a measured decode
    rate) names the hours and --max-tokens; the batch log gets a line every second (HARNESS_PROGRESS_EVERY=1) while
    the first answers are still being written, with tokens/s from the engine's live count and the oldest item's
    age; SIGTERM stops it and prints what is saved and the command that resumes."""
    pytest.importorskip("gguf")
    out = tmp_path / "run"
    h = Harness("--benchmarks", "mmlu_pro", "--limit", "10", "--max-tokens", "8192", "--out", str(out),
                env={"HARNESS_PROGRESS_EVERY": "1"})
    h.wait_for(lambda lines: len([x for x in timer_lines(lines) if " 0 tokens" not in x]) >= 3)
    h.proc.send_signal(signal.SIGTERM)
    rc = h.finish(timeout=120)
    err = h.stderr
    estimate = next(x for x in h.err if x.startswith("note: 10 items × up to 8,192 tokens"))
    assert "tokens/s measured on this machine: up to" in estimate and "--max-tokens" in estimate
    live = [x for x in timer_lines(h.err) if " 0 tokens" not in x]
    assert all("in flight (oldest " in x and "ETA ≤ " in x for x in live), live  # no answer yet: a bound
    assert rc == 143, err
    assert re.search(r"interrupted \(SIGTERM\): \d+ of 10 items are answered and saved in", err), err
    resume = err.split("Resume with:\n", 1)[1].splitlines()[0].strip()
    assert shlex.split(resume)[:2] == ["harness", "run"] and str(out) in resume


def test_ctrl_c_abandons_the_answer_in_flight_and_the_printed_command_resumes(tmp_path, endless):
    """SIGINT while the hf engine is writing two 3,000-token answers (greedy: one batch): the process exits within a generous bound
    (the generation stops at its next token instead of running to its budget), nothing half-written is recorded,
    the message gives the command, and that command finishes the run."""
    out = tmp_path / "run"
    args = ["--engine", "hf", "--model", str(endless), "--benchmarks", "mmlu_pro", "--limit", "2", "--max-tokens",
            "3000", "--temperature", "0", "--out", str(out)]
    h = Harness(*args, env={"HARNESS_PROGRESS_EVERY": "0.5"})
    h.wait_for(lambda lines: any(" 0 tokens" not in x for x in timer_lines(lines)))
    h.proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    rc = h.finish(timeout=300)
    stopped_in = time.monotonic() - t0
    assert rc == 130, h.stderr
    assert stopped_in < 60, f"took {stopped_in:.0f} s to stop"  # generous: a full answer would run on
    assert not read_jsonl(out / "generations.jsonl")
    err = h.stderr
    assert "SIGINT: stopping; the answer in flight is abandoned" in err
    assert "interrupted (SIGINT): 0 of 2 items are answered and saved in" in err
    resume = shlex.split(err.split("Resume with:\n", 1)[1].splitlines()[0])
    assert resume[:2] == ["harness", "run"] and resume[2:] == args

    p = subprocess.run([*HARNESS, *resume[1:]], capture_output=True, text=True, timeout=900,
                       env={**os.environ, **ONE_THREAD})
    assert p.returncode == 3, p.stderr  # complete; invalid because every answer ran to its budget
    gens = read_jsonl(out / "generations.jsonl")
    assert len(gens) == 2 and all(g["completion_tokens"] == 3000 and g["error"] is None for g in gens)
    assert json.loads((out / "summary.json").read_text())["complete"] is True


def test_budget_is_cut_to_the_served_max_model_len_on_an_openai_compatible_server(tmp_path, scripted_server):
    """The same rule for a server (vLLM's --max-model-len, read from /v1/models; prompts counted with /tokenize):
    a real server process on 127.0.0.1 reporting 1,000 tokens of context."""
    out = tmp_path / "run"
    with scripted_server("--max-model-len", "1000") as srv:
        p = subprocess.run([*HARNESS, "run", "--engine", "openai", "--model", srv.model, "--base-url", srv.base_url,
                            "--benchmarks", "mmlu_pro", "--limit", "4", "--max-tokens", "5000", "--out", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    gens = read_jsonl(out / "generations.jsonl")
    assert len(gens) == 4
    for g in gens:  # the scripted server counts words as tokens, in /tokenize and in its usage alike
        assert g["max_tokens_clamped_from"] == 5000
        assert g["request"]["max_tokens"] == 1000 - g["prompt_tokens"]
    assert p.stderr.count("note: mmlu_pro: 4 of 4 items leave less than max_tokens 5,000") == 1, p.stderr


def test_a_second_signal_exits_at_once(tmp_path, endless):
    """Two signals at once (SIGINT and SIGTERM sent to the stopped process, both delivered when it continues): the
    first starts the orderly stop, the second exits at once with its own status, the records on disk intact."""
    out = tmp_path / "run"
    h = Harness("--engine", "hf", "--model", str(endless), "--benchmarks", "mmlu_pro", "--limit", "1",
                "--max-tokens", "20000", "--out", str(out), env={"HARNESS_PROGRESS_EVERY": "0.5"})
    h.wait_for(lambda lines: any(" 0 tokens" not in x for x in timer_lines(lines)))
    h.proc.send_signal(signal.SIGSTOP)
    try:
        h.proc.send_signal(signal.SIGINT)
        h.proc.send_signal(signal.SIGTERM)
    finally:
        h.proc.send_signal(signal.SIGCONT)
    rc = h.finish(timeout=120)
    # the kernel may hand them over in either order: the one handled second sets the status
    first = re.search(r"^(SIGINT|SIGTERM): stopping;", h.stderr, re.M)
    second = re.search(r"^(SIGINT|SIGTERM), a second signal: exiting now", h.stderr, re.M)
    assert first and second and {first[1], second[1]} == {"SIGINT", "SIGTERM"}, h.stderr
    assert rc == 128 + signal.Signals[second[1]], h.stderr
    assert "Resume with" not in h.stderr  # no orderly stop: it did not wait for one
    assert not read_jsonl(out / "generations.jsonl")
    assert json.loads((out / "manifest.json").read_text())["benchmarks"]["mmlu_pro"]["items"] == 1


def test_sigterm_while_planning_says_so_and_exits_143(tmp_path, monkeypatch):
    """Before the run's own handlers are installed (planning, loading data), SIGTERM used to kill the command
    without a word: now it ends it as Ctrl-C does, with a message and 128 + SIGTERM, and the handler is put back."""
    from typer.testing import CliRunner

    from harness import runner
    from harness.cli import app

    def plan_then_terminated(*_a, **_k):
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal to this process, while "planning"
        time.sleep(30)  # never reached: the handler raises at once
        raise AssertionError("SIGTERM was not handled")

    monkeypatch.setattr(runner, "plan_benchmarks", plan_then_terminated)
    before = signal.getsignal(signal.SIGTERM)
    r = CliRunner().invoke(app, ["run", "--benchmarks", "mmlu_pro", "--engine", "openai", "--model", "m",
                                 "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "run")])
    assert r.exit_code == 143, r.output
    assert "interrupted (SIGTERM) before any request" in r.output
    assert signal.getsignal(signal.SIGTERM) == before
