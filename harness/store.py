"""results/<run>/: manifest.json, generations.jsonl and scores.jsonl (append-only), summary.json.

Crash safety: each record is one `write` of one line, flushed at once and fsynced at least every second, so `kill -9`
loses at most the line being written. On reopening, a torn last line (no newline) is cut off and reported; a corrupt
line anywhere else is an error naming the line (a file is never rewritten silently). An exclusive lock stops two
processes from writing one run.

Records are read one line at a time. Resume, `harness score`, summaries and scorecards hold them lean (RunRecords with
`lean`): per item the keys, prompt hash, tokens, finish reason, errors and verdicts, not the answer's texts, which are
read back from their line (by byte offset) when a scorer needs them. A 250 MiB run resumes in under 300 MB
(bench/resume_memory.py).

A version-1 run directory (samples.jsonl, generation and score in one line) is read as generations and scores with
the scorer fingerprint `v1`; writing to it (resume, `harness score`) first writes its generations.jsonl and
scores.jsonl from samples.jsonl, which is kept as it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.errors import ConfigError, DataError, redact
from harness.records import SCHEMA_VERSION, Generation, Key, ScoreRecord, from_v1, item_view

GENERATIONS, SCORES, V1_SAMPLES = "generations.jsonl", "scores.jsonl", "samples.jsonl"


def atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; is this a run directory?") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); restore it or start a new run directory") from None


def iter_jsonl(path: Path, repair: bool = False, notes: list[str] | None = None) -> Iterator[tuple[int, int, dict]]:
    """(line number, byte offset, record) for each line in file order, read one line at a time (a run's records can
    be GBs of reasoning text). A torn final line (no newline) is skipped with a note in `notes`, and cut off when
    `repair`; a corrupt line anywhere else is an error naming it."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                if notes is not None:
                    notes.append(f"{path.name}: dropped a torn last line ({len(line)} bytes) left by an interrupted "
                                 "write")
                if repair:
                    with open(path, "r+b") as w:
                        w.truncate(offset)
                return
            at, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8", errors="replace"))
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}:{n}: corrupt record ({e.msg}). Finished work is in the other lines: remove or fix line "
                    f"{n} and re-run to resume"
                ) from None
            yield n, at, row


def read_jsonl(path: Path, repair: bool = False) -> tuple[list[dict], str | None]:
    """All lines in file order, and a note if a torn final line was found (and cut off when `repair`)."""
    notes: list[str] = []
    rows = [row for _, _, row in iter_jsonl(path, repair, notes)]
    return rows, (notes[0] if notes else None)


def _parse(model, row: dict, path: Path, n: int):
    try:
        return model.model_validate(row)
    except Exception as e:  # noqa: BLE001 - pydantic names the field
        raise DataError(f"{path}: record {n} is not a {model.__name__} record ({str(e).splitlines()[0]}); fix or "
                        "remove it") from None


def _intern(x: str | None) -> str | None:
    return sys.intern(x) if x is not None else None


# what a lean generation leaves out: the answer's texts, read back from the record's line when a scorer needs them
TEXT_FIELDS = ("response", "reasoning", "engine_extra", "request", "prompt_meta")


_KEEP = tuple(f for f in Generation.model_fields if f not in TEXT_FIELDS)  # every other field, in schema order
_IX = {f: i for i, f in enumerate(_KEEP)}
_INTERNED = {"benchmark", "category", "finish_reason", "error_kind"}


class LeanGeneration:
    """A generation without its texts (TEXT_FIELDS): what resume, the scheduler, the prompt check and the summary
    read (keys, prompt hash, tokens, finish reason, error, time: every other field), and where its full line is
    (`src`, `offset`). Holding these instead of whole records keeps a resume or a summary of GBs of reasoning text
    in tens of MB."""

    __slots__ = ("_v", "reasoning_chars", "src", "offset")

    def __init__(self, g: Generation, src: int, offset: int):
        self._v = tuple(_intern(getattr(g, f)) if f in _INTERNED else getattr(g, f) for f in _KEEP)
        self.reasoning_chars = len(g.reasoning) if g.reasoning else 0
        self.src, self.offset = src, offset

    def __getattr__(self, name: str) -> Any:
        try:
            return self._v[_IX[name]]
        except KeyError:
            raise AttributeError(f"{name!r}: a lean generation holds no texts; use RunRecords.generation(key)") \
                from None

    @property
    def key(self) -> Key:
        return (self.benchmark, self.sample_id, self.repeat)

    def view(self) -> dict[str, Any]:
        """Generation.model_dump() without TEXT_FIELDS, with `reasoning_chars` (harness.records.item_view)."""
        d = dict(zip(_KEEP, self._v))
        d["reasoning_chars"] = self.reasoning_chars
        return d


class LeanScore:
    """A verdict as the summary and resume read it (a ScoreRecord's fields, its `details` included: benchmarks'
    metrics read them)."""

    __slots__ = ("benchmark", "sample_id", "repeat", "scorer", "target", "extracted", "score", "details", "error",
                 "generation_time", "time")

    def __init__(self, s: ScoreRecord):
        self.benchmark, self.sample_id, self.repeat = sys.intern(s.benchmark), s.sample_id, s.repeat
        self.scorer, self.target, self.extracted = sys.intern(s.scorer), s.target, s.extracted
        self.score, self.details, self.error = s.score, s.details, s.error
        self.generation_time, self.time = s.generation_time, s.time

    @property
    def key(self) -> Key:
        return (self.benchmark, self.sample_id, self.repeat)


@dataclass
class RunRecords:
    """The latest generation per work item and the latest score per (work item, scorer).

    `lean` (resume, `harness score`, summaries, scorecards): generations are held as LeanGeneration and scores as
    LeanScore; `generation(key)` reads a full generation back from its line when a scorer needs its answer."""

    generations: dict[Key, Any] = field(default_factory=dict)  # Generation, or LeanGeneration when lean
    scores: dict[tuple[Key, str], Any] = field(default_factory=dict)  # ScoreRecord, or LeanScore when lean
    version: str = SCHEMA_VERSION
    lean: bool = False
    sources: list[Path] = field(default_factory=list)  # LeanGeneration.src indexes this: the files lines are in

    def add_generation(self, g: Any, src: int | None = None, offset: int | None = None) -> None:
        prev = self.generations.get(g.key)
        if prev is None or g.error is None or prev.error is not None:
            if self.lean and isinstance(g, Generation) and src is not None and offset is not None:
                g = LeanGeneration(g, src, offset)
            self.generations[g.key] = g

    def add_score(self, s: Any) -> None:
        k = (s.key, s.scorer)
        prev = self.scores.get(k)
        if prev is None or s.error is None or prev.error is not None:
            self.scores[k] = LeanScore(s) if self.lean and isinstance(s, ScoreRecord) else s

    def generation(self, key: Key) -> Generation:
        """The full generation of `key` (read back from its line when held lean)."""
        g = self.generations[key]
        if not isinstance(g, LeanGeneration):
            return g
        path = self.sources[g.src]
        with open(path, "rb") as f:
            f.seek(g.offset)
            row = json.loads(f.readline().decode("utf-8", errors="replace"))
        return from_v1(row)[0] if path.name == V1_SAMPLES else Generation.model_validate(row)

    def score_for(self, key: Key, scorer: str | None) -> Any:
        """The verdict of `scorer` on the current generation of `key` (a verdict on an earlier, failed attempt
        does not count)."""
        s = self.scores.get((key, scorer)) if scorer else None
        g = self.generations.get(key)
        if s is None or g is None or g.error is not None:
            return None
        if s.generation_time is not None and s.generation_time != g.time:
            return None
        return s

    def items(self, benchmark: str, scorer: str | None, keys: Iterable[Key] | None = None) -> list[dict]:
        """Item views (generation + current verdict) of one benchmark, for the summary and `metrics`."""
        ks = keys if keys is not None else [k for k in self.generations if k[0] == benchmark]
        return [item_view(g, self.score_for(k, scorer)) for k in ks if (g := self.generations.get(k)) is not None]

    def benchmarks(self) -> list[str]:
        return sorted({k[0] for k in self.generations})


def load_records(run_dir: Path, repair: bool = False, notes: list[str] | None = None, lean: bool = False) \
        -> RunRecords:
    """The records of a run directory, read one line at a time. `lean`: without the generations' texts (see
    RunRecords); what resume and summaries need, in a small fraction of the memory."""
    d = Path(run_dir)
    out = RunRecords(lean=lean)
    gp, sp, v1 = d / GENERATIONS, d / SCORES, d / V1_SAMPLES
    if not gp.exists() and v1.exists():
        out.version = "1.0"
        out.sources = [v1, gp]  # lines appended after the upgrade are in generations.jsonl
        for _, at, r in iter_jsonl(v1, notes=notes):
            try:
                g, s = from_v1(r)
            except Exception as e:  # noqa: BLE001
                raise DataError(f"{v1}: a record is not a version-1 sample record ({e}); fix or remove it") from None
            out.add_generation(g, 0, at)
            if s is not None:
                out.add_score(s)
    else:
        out.sources = [gp]
        for n, at, r in iter_jsonl(gp, repair, notes):
            out.add_generation(_parse(Generation, r, gp, n), 0, at)
        for n, _, r in iter_jsonl(sp, repair, notes):
            out.add_score(_parse(ScoreRecord, r, sp, n))
    return out


class _Log:
    def __init__(self, path: Path):
        self.path = path
        self._f = open(path, "ab")
        self._size = self._f.seek(0, os.SEEK_END)
        self._last_sync = 0.0

    def append(self, record: dict) -> int:
        """Write one record as one line; returns the byte offset the line starts at."""
        try:
            data = redact(json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a server: stored escaped, never a crash on resume
            data = redact(json.dumps(record, ensure_ascii=True) + "\n").encode("utf-8")
        at = self._size
        self._f.write(data)  # no configured API key is ever stored, whatever a server echoed
        self._f.flush()
        self._size += len(data)
        t = time.monotonic()
        if t - self._last_sync > 1.0:
            os.fsync(self._f.fileno())
            self._last_sync = t
        return at

    def close(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.generations_path = self.dir / GENERATIONS
        self.scores_path = self.dir / SCORES
        self.manifest_path = self.dir / "manifest.json"
        self.summary_path = self.dir / "summary.json"
        self._gen: _Log | None = None
        self._scores: _Log | None = None
        self._lock = None
        self.notes: list[str] = []
        self.records = RunRecords()

    def lock(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.dir / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ConfigError(f"another harness process is writing to {self.dir}; wait for it or use another --out")

    def open(self) -> RunRecords:
        """Lock the run, repair a torn tail, upgrade a version-1 directory, and return what is on disk."""
        self.lock()
        self.records = load_records(self.dir, repair=True, notes=self.notes, lean=True)
        upgrade = self.records.version == "1.0"
        # once per version-1 directory, from its whole records (they predate long reasoning runs), read before
        # generations.jsonl exists
        full = load_records(self.dir) if upgrade else None
        self._gen = _Log(self.generations_path)
        self._scores = _Log(self.scores_path)
        if full is not None:
            for g in full.generations.values():
                self._gen.append(g.model_dump())
            for s in full.scores.values():
                self._scores.append(s.model_dump())
            del full
            self.notes.append(f"{V1_SAMPLES}: a version-1 run directory; its records are now also in {GENERATIONS} "
                              f"and {SCORES} (samples.jsonl is kept as it was)")
        return self.records

    def append_generation(self, g: Generation) -> None:
        assert self._gen is not None, "store not open"
        at = self._gen.append(g.model_dump())
        self.records.add_generation(g, self.records.sources.index(self.generations_path)
                                    if self.generations_path in self.records.sources else None, at)

    def append_score(self, s: ScoreRecord) -> None:
        assert self._scores is not None, "store not open"
        self._scores.append(s.model_dump())
        self.records.add_score(s)

    def close(self) -> None:
        for log in (self._gen, self._scores):
            if log:
                log.close()
        self._gen = self._scores = None
        if self._lock:
            self._lock.close()
            self._lock = None

    def read_manifest(self) -> dict | None:
        return read_json(self.manifest_path) if self.manifest_path.exists() else None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(self.manifest_path, manifest)

    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.summary_path, summary)


def current_scorer(manifest: dict | None, records: RunRecords, benchmark: str) -> str | None:
    """The scorer whose verdicts count for `benchmark`: the manifest's, or `v1` in a version-1 directory."""
    from harness.records import V1_SCORER

    entry = ((manifest or {}).get("benchmarks") or {}).get(benchmark) or {}
    return entry.get("scorer") or (V1_SCORER if records.version == "1.0" else None)


def run_items(run_dir: Path, records: RunRecords | None = None, lean: bool = False) -> dict[Key, dict]:
    """Every work item of a run directory as one view (generation + current verdict), by (benchmark, id, repeat);
    `lean`: without the generations' texts (harness.store.TEXT_FIELDS)."""
    d = Path(run_dir)
    manifest = read_json(d / "manifest.json") if (d / "manifest.json").exists() else None
    records = records or load_records(d, lean=lean)
    out: dict[Key, dict] = {}
    for name in records.benchmarks():
        for item in records.items(name, current_scorer(manifest, records, name)):
            out[(item["benchmark"], item["sample_id"], item["repeat"])] = item
    return out
