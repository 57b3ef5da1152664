"""`harness view RUN_DIR [RUN_DIR_B]`: one self-contained, offline HTML item browser of a run (or of two runs).

The page is built from the run's records (generations.jsonl + scores.jsonl through `harness.store`, the current
scorer's verdicts as `harness report` counts them) and works from a file:// URL with no network: the script, the
styles and the data are all inside the file (view.js, view.css and view.html beside this module, inlined).

Large runs (13 benchmarks × 5 repeats ≈ 60,000 items with long reasoning) stay usable:
- the table reads a compact index (one JSON blob of columns per benchmark: id, repeat, category, verdict, flags,
  short extracted/gold, tokens, latency) parsed once; the table is paged, so a page costs the same whatever the run;
- item bodies (reasoning, answer, score details, engine_extra) and prompts (each distinct one once) are
  gzip-compressed in chunks of a few hundred kilobytes, base64 in `<script type="application/octet-stream">`
  elements after the page's script, decompressed (the browser's DecompressionStream) only when an item of that
  chunk is opened or a full-text search asks for it.
  The first table page is drawn before the browser has parsed the chunks.

Prompts are not stored in a run (only their sha256): they are rebuilt from the manifest's plan as `harness score`
does (`harness.rescore.plan_from_manifest`) and checked against the stored hash. When the data is not available
here, or a rebuilt prompt has another hash, the page says so and shows the hash.

With two runs the items are joined by (benchmark, sample_id, repeat); items whose verdict changed between the runs
are listed first.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import IO, Any, Callable

from harness.errors import ConfigError, DataError, HarnessError
from harness.records import Key

# flag bits of one item in one run (the index's `f` column; view.js reads the same bits)
WRONG, UNPARSED, TRUNCATED, ENGINE_ERROR, SCORER_ERROR, UNSCORED, REPEATS_DISAGREE, PROMPT_DIFFERS = (
    1, 2, 4, 8, 16, 32, 64, 128)
SHORT = 60  # characters of extracted / gold shown in the table
CHUNK_BYTES = 256 * 1024  # uncompressed JSON per body chunk
CHUNK_ITEMS = 400


@dataclass
class RunData:
    dir: Path
    manifest: dict
    summary: dict
    items: dict[Key, dict]  # item views (harness.records.item_view)
    prompts: dict[str, dict[tuple[str, int], dict]] = field(default_factory=dict)  # bench -> (sid, rep) -> prompt
    prompt_notes: dict[str, str] = field(default_factory=dict)


def _natural(sid: str) -> tuple:
    return (0, int(sid), "") if sid.isdigit() else (1, 0, sid)


def rebuild_prompts(run_dir: Path, manifest: dict, keys: dict[str, list[tuple[str, int]]],
                    data_dirs: list[Path] | None) -> tuple[dict, dict[str, str]]:
    """The prompt messages of each (benchmark, sample_id, repeat), rebuilt from the manifest's plan, with whether
    their sha256 equals the stored one (checked by the caller); and per benchmark a note when they cannot be."""
    from harness.rescore import model_of, plan_from_manifest
    from harness.score import prompt_sha256

    spec = model_of(manifest)
    out: dict[str, dict[tuple[str, int], dict]] = {}
    notes: dict[str, str] = {}
    for name, entry in (manifest.get("benchmarks") or {}).items():
        if name not in keys:
            continue
        if entry.get("module") in ("lmeval", "lmms"):
            notes[name] = ("lm-eval builds this task's prompts; the record keeps lm-eval's document data in "
                           "engine_extra" if entry["module"] == "lmeval" else
                           "lmms-eval builds this task's prompts (and images)")
            continue
        try:
            plan = plan_from_manifest(name, entry, spec, data_dirs, None, ("judge", "user_sim"),
                                      set(keys[name]))
        except HarnessError as e:
            notes[name] = f"prompts not shown: {e}"
            continue
        except Exception as e:  # noqa: BLE001 - a benchmark's optional package missing here, a changed task file
            notes[name] = f"prompts not shown: the benchmark cannot be loaded here ({type(e).__name__}: {e})"
            continue
        by_id = {s.id: s for s in plan.samples}
        got: dict[tuple[str, int], dict] = {}
        missing = 0
        for sid, rep in keys[name]:
            s = by_id.get(sid)
            if s is None:
                missing += 1
                continue
            p = plan.benchmark.prompt(s, rep)
            got[(sid, rep)] = {"messages": p.messages, "sha256": prompt_sha256(p)}
        out[name] = got
        if missing:
            notes[name] = f"{missing} items are not in the data found here: their prompts are not shown"
    return out, notes


def load_run(run_dir: Path, data_dirs: list[Path] | None = None, prompts: bool = True,
             rebuild: Callable[..., tuple[dict, dict[str, str]]] | None = None) -> RunData:
    from harness.store import load_records, read_json, run_items

    d = Path(run_dir)
    if not d.is_dir():
        raise ConfigError(f"{d} is not a directory; give a run directory (results/<run>)")
    if not (d / "manifest.json").exists() and not (d / "generations.jsonl").exists() and \
            not (d / "samples.jsonl").exists():
        raise ConfigError(f"{d} has no manifest.json or generations.jsonl; is it a run directory?")
    manifest = read_json(d / "manifest.json") if (d / "manifest.json").exists() else {}
    summary = read_json(d / "summary.json") if (d / "summary.json").exists() else {}
    items = run_items(d, load_records(d))
    run = RunData(d, manifest, summary, items)
    keys: dict[str, list[tuple[str, int]]] = {}
    for b, sid, rep in items:
        keys.setdefault(b, []).append((sid, rep))
    if prompts and manifest:
        run.prompts, run.prompt_notes = (rebuild or rebuild_prompts)(d, manifest, keys, data_dirs)
    else:
        why = "not rebuilt (--no-prompts)" if manifest else "not shown: the run directory has no manifest.json"
        run.prompt_notes = {b: f"prompts {why}" for b in keys}
    return run


def _short(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v)
    return s if len(s) <= SHORT else s[:SHORT - 1] + "…"


def _flags(it: dict, prompt: dict | None) -> int:
    f = 0
    err, kind = it.get("error"), it.get("error_kind")
    if err is not None:
        f |= SCORER_ERROR if kind == "scorer" else ENGINE_ERROR
    elif it.get("unscored"):
        f |= UNSCORED
    else:
        if it.get("score") is not None and it["score"] < 1:
            f |= WRONG
        if it.get("extracted") is None:
            f |= UNPARSED
    if it.get("finish_reason") == "length":
        f |= TRUNCATED
    if prompt is not None and it.get("prompt_sha256") and prompt["sha256"] != it["prompt_sha256"]:
        f |= PROMPT_DIFFERS
    return f


def _body(it: dict, prompt_ref: int | None, prompt_matches: bool | None) -> dict:
    return {
        "p": prompt_ref, "pm": prompt_matches, "ps": it.get("prompt_sha256"), "meta": it.get("prompt_meta"),
        "r": it.get("reasoning"), "a": it.get("response"), "x": it.get("extracted"), "t": it.get("target"),
        "s": it.get("score"), "d": it.get("details"), "e": it.get("error"), "ek": it.get("error_kind"),
        "fr": it.get("finish_reason"), "tok": [it.get("prompt_tokens"), it.get("completion_tokens"),
                                              it.get("reasoning_tokens")],
        "lat": it.get("latency_s"), "seed": it.get("seed"), "req": it.get("request"), "ee": it.get("engine_extra"),
        "sc": it.get("scorer"), "time": it.get("time"), "un": bool(it.get("unscored")),
    }


def _json(x: Any) -> str:
    # inside <script>: no "</script" or "<!--" can appear; \u003c is the same string to JSON.parse
    return json.dumps(x, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _pack(chunk_id: int, raw: bytes) -> str:
    data = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
    return f'<script type="application/octet-stream" id="hvc-{chunk_id}">{data}</script>\n'


class _Chunks:
    """Body chunks, compressed and written to a temporary file as they fill, numbered across the whole page: item
    chunks ({"items": [...]}, one benchmark of one run each) and prompt chunks ({"prompts": [...]}). Each distinct
    prompt is stored once (by sha256) whatever the repeats, runs or chunks that refer to it, so a 100k-token AA-LCR
    prompt is not copied five times. zlib releases the GIL: chunks are compressed on a few threads, written in order
    of completion (the page finds them by id)."""

    def __init__(self, tmp: IO[str]):
        self.tmp = tmp
        self.count = 0  # chunk ids handed out
        self.raw_bytes = 0
        self.bytes = 0
        self._bufs = {"items": _Buf(), "prompts": _Buf()}
        self._prompt_refs: dict[str, list[int]] = {}
        self._workers = max(1, min(8, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self._workers)
        self._pending: deque = deque()

    def _put(self, kind: str, text: str) -> list[int]:
        buf = self._bufs[kind]
        if buf.id is None:
            buf.id, self.count = self.count, self.count + 1
        buf.texts.append(text)
        buf.size += len(text)
        at = [buf.id, len(buf.texts) - 1]
        if buf.size >= CHUNK_BYTES or len(buf.texts) >= CHUNK_ITEMS:
            self.flush(kind)
        return at

    def add(self, body: dict, prompt: dict | None) -> tuple[int, int]:
        if prompt is not None:
            ref = self._prompt_refs.get(prompt["sha256"])
            if ref is None:
                text = json.dumps(prompt["messages"], ensure_ascii=False, separators=(",", ":"))
                ref = self._prompt_refs[prompt["sha256"]] = self._put("prompts", text)
            body["p"] = ref
        c, o = self._put("items", json.dumps(body, ensure_ascii=False, separators=(",", ":")))
        return c, o

    def flush(self, kind: str = "items") -> None:
        buf = self._bufs[kind]
        if not buf.texts:
            return
        raw = f'{{"{kind}":[{",".join(buf.texts)}]}}'.encode("utf-8")
        self.raw_bytes += len(raw)
        self._pending.append(self._pool.submit(_pack, buf.id, raw))
        self._bufs[kind] = _Buf()
        while len(self._pending) > 2 * self._workers:
            self._write(self._pending.popleft().result())

    def _write(self, text: str) -> None:
        self.tmp.write(text)
        self.bytes += len(text)

    def close(self) -> None:
        for kind in self._bufs:
            self.flush(kind)
        while self._pending:
            self._write(self._pending.popleft().result())
        self._pool.shutdown()


@dataclass
class _Buf:
    id: int | None = None
    texts: list[str] = field(default_factory=list)
    size: int = 0


def _run_meta(run: RunData, label: str) -> dict:
    m = run.manifest
    model = (m.get("model") or {})
    return {"label": label, "dir": str(run.dir), "run_id": m.get("run_id") or run.summary.get("run_id") or run.dir.name,
            "model": model.get("name") or model.get("model") or run.summary.get("model") or "?",
            "engine": (m.get("engine") or {}).get("kind") or (m.get("engine") or {}).get("name") or
            run.summary.get("engine"),
            "created": m.get("created"), "complete": run.summary.get("complete")}


def build_index(runs: list[RunData], chunks: _Chunks) -> dict:
    """The page's index (columns per benchmark and run), writing item bodies to `chunks` in table order."""
    names = sorted({k[0] for r in runs for k in r.items})
    benches = []
    for name in names:
        keys = sorted({k for r in runs for k in r.items if k[0] == name}, key=lambda k: (_natural(k[1]), k[2]))
        cats: dict[str, int] = {}
        cat_col = []
        for k in keys:
            it = next(r.items[k] for r in runs if k in r.items)
            c = it.get("category")
            cat_col.append(-1 if c is None else cats.setdefault(str(c), len(cats)))
        run_cols = []
        for r in runs:
            prompts = r.prompts.get(name) or {}
            s, f, x, t, ct, lat, c, o = [], [], [], [], [], [], [], []
            by_sample: dict[str, set] = {}
            for k in keys:
                it = r.items.get(k)
                if it is not None and it.get("score") is not None:
                    by_sample.setdefault(k[1], set()).add(it["score"])
            n_differs = 0
            for k in keys:
                it = r.items.get(k)
                if it is None:
                    for col in (s, f, x, t, ct, lat, o):
                        col.append(None)
                    c.append(-1)
                    continue
                p = prompts.get((k[1], k[2]))
                flags = _flags(it, p)
                if len(by_sample.get(k[1], ())) > 1:
                    flags |= REPEATS_DISAGREE
                n_differs += bool(flags & PROMPT_DIFFERS)
                s.append(it.get("score"))
                f.append(flags)
                x.append(_short(it.get("extracted")))
                t.append(_short(it.get("target")))
                ct.append(it.get("completion_tokens"))
                lat.append(None if it.get("latency_s") is None else round(it["latency_s"], 2))
                matches = None if p is None or not it.get("prompt_sha256") else p["sha256"] == it["prompt_sha256"]
                ci, oi = chunks.add(_body(it, None, matches), p)
                c.append(ci)
                o.append(oi)
            summ = ((r.summary.get("benchmarks") or {}).get(name) or {})
            notes = []
            if r.prompt_notes.get(name):
                notes.append(r.prompt_notes[name])
            if n_differs:
                notes.append(f"{n_differs} rebuilt prompts have another sha256 than the one sent (the data or the "
                             "prompt code changed since the run): those prompts are shown as they are built now")
            run_cols.append({"s": s, "f": f, "x": x, "t": t, "ct": ct, "lat": lat, "c": c, "o": o,
                             "score": summ.get("score"), "valid": summ.get("valid"),
                             "invalid_reason": summ.get("invalid_reason"), "metric": summ.get("metric"),
                             "notes": notes})
            chunks.flush()  # an item chunk holds one benchmark of one run
        benches.append({"name": name, "n": len(keys), "sid": [k[1] for k in keys], "rep": [k[2] for k in keys],
                        "cat": cat_col, "cats": list(cats), "runs": run_cols})
    return {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "runs": [_run_meta(r, label) for r, label in zip(runs, "AB")],
            "benchmarks": benches}


def _asset(name: str) -> str:
    return resources.files("harness.report").joinpath(name).read_text(encoding="utf-8")


def write_view(dirs: list[Path], out: Path | None = None, data_dirs: list[Path] | None = None,
               prompts: bool = True, rebuild: Callable | None = None) -> dict[str, Any]:
    """Write the viewer of one run (or two, compared) to `out` (default: <first dir>/view.html); return what was
    written: path, items, HTML bytes, chunk count and sizes."""
    if not 1 <= len(dirs) <= 2:
        raise ConfigError(f"give one run directory, or two to compare (got {len(dirs)})")
    runs = [load_run(Path(d), data_dirs, prompts, rebuild) for d in dirs]
    if not any(r.items for r in runs):
        raise DataError(f"{dirs[0]} has no generation records yet; run or resume it first")
    path = Path(out) if out else Path(dirs[0]) / "view.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as tmp:
        chunks = _Chunks(tmp)
        try:
            index = build_index(runs, chunks)
        finally:
            chunks.close()
        index["chunks"] = chunks.count
        title = " vs ".join(f"{m['model']} ({m['run_id']})" for m in index["runs"])
        head, _, tail = _asset("view.html").partition("<!--CHUNKS-->")
        fill = {"/*CSS*/": _asset("view.css"), "<!--TITLE-->": _escape(f"Items: {title}"), "/*INDEX*/": _json(index),
                "/*JS*/": _asset("view.js").replace("</script", "<\\/script")}
        head = re.sub("|".join(map(re.escape, fill)), lambda m: fill[m.group(0)], head)  # one pass: data stays data
        tmp.seek(0)
        with open(path, "w", encoding="utf-8") as f:
            f.write(head)
            shutil.copyfileobj(tmp, f, 1 << 20)
            f.write(tail)
    return {"path": path, "items": sum(b["n"] for b in index["benchmarks"]), "bytes": path.stat().st_size,
            "chunks": chunks.count, "bodies_raw_bytes": chunks.raw_bytes, "bodies_bytes": chunks.bytes}


def _escape(s: str) -> str:
    from html import escape

    return escape(s)
