"""results/<run>/: manifest.json, generations.jsonl and scores.jsonl (append-only), summary.json.

Crash safety: each record is one `write` of one line, flushed at once and fsynced at least every second, so `kill -9`
loses at most the line being written. On reopening, a torn last line (no newline) is cut off and reported; a corrupt
line anywhere else is an error naming the line (a file is never rewritten silently). An exclusive lock stops two
processes from writing one run.

A version-1 run directory (samples.jsonl, generation and score in one line) is read as generations and scores with
the scorer fingerprint `v1`; writing to it (resume, `harness score`) first writes its generations.jsonl and
scores.jsonl from samples.jsonl, which is kept as it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

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


def read_jsonl(path: Path, repair: bool = False) -> tuple[list[dict], str | None]:
    """All lines in file order, and a note if a torn final line was found (and cut off when `repair`)."""
    if not path.exists():
        return [], None
    data = path.read_bytes()
    note = None
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        note = f"{path.name}: dropped a torn last line ({len(data) - cut} bytes) left by an interrupted write"
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut)
        data = data[:cut]
    out = []
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path}:{n}: corrupt record ({e.msg}). Finished work is in the other lines: remove or fix line {n} "
                "and re-run to resume"
            ) from None
    return out, note


def _parse(model, rows: list[dict], path: Path) -> list:
    out = []
    for n, r in enumerate(rows, 1):
        try:
            out.append(model.model_validate(r))
        except Exception as e:  # noqa: BLE001 - pydantic names the field
            raise DataError(f"{path}: record {n} is not a {model.__name__} record ({str(e).splitlines()[0]}); fix or "
                            "remove it") from None
    return out


@dataclass
class RunRecords:
    """The latest generation per work item and the latest score per (work item, scorer)."""

    generations: dict[Key, Generation] = field(default_factory=dict)
    scores: dict[tuple[Key, str], ScoreRecord] = field(default_factory=dict)
    version: str = SCHEMA_VERSION

    def add_generation(self, g: Generation) -> None:
        prev = self.generations.get(g.key)
        if prev is None or g.error is None or prev.error is not None:
            self.generations[g.key] = g

    def add_score(self, s: ScoreRecord) -> None:
        k = (s.key, s.scorer)
        prev = self.scores.get(k)
        if prev is None or s.error is None or prev.error is not None:
            self.scores[k] = s

    def score_for(self, key: Key, scorer: str | None) -> ScoreRecord | None:
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


def load_records(run_dir: Path, repair: bool = False, notes: list[str] | None = None) -> RunRecords:
    d = Path(run_dir)
    out = RunRecords()
    gp, sp, v1 = d / GENERATIONS, d / SCORES, d / V1_SAMPLES
    if not gp.exists() and v1.exists():
        rows, note = read_jsonl(v1)
        out.version = "1.0"
        for r in rows:
            try:
                g, s = from_v1(r)
            except Exception as e:  # noqa: BLE001
                raise DataError(f"{v1}: a record is not a version-1 sample record ({e}); fix or remove it") from None
            out.add_generation(g)
            if s is not None:
                out.add_score(s)
    else:
        rows, note = read_jsonl(gp, repair)
        for g in _parse(Generation, rows, gp):
            out.add_generation(g)
        rows2, note2 = read_jsonl(sp, repair)
        for s in _parse(ScoreRecord, rows2, sp):
            out.add_score(s)
        note = note or note2
    if note and notes is not None:
        notes.append(note)
    return out


class _Log:
    def __init__(self, path: Path):
        self.path = path
        self._f = open(path, "a", encoding="utf-8")
        self._last_sync = 0.0

    def append(self, record: dict) -> None:
        try:
            line = json.dumps(record, ensure_ascii=False) + "\n"
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a server: stored escaped, never a crash on resume
            line = json.dumps(record, ensure_ascii=True) + "\n"
        self._f.write(redact(line))  # no configured API key is ever stored, whatever a server echoed
        self._f.flush()
        t = time.monotonic()
        if t - self._last_sync > 1.0:
            os.fsync(self._f.fileno())
            self._last_sync = t

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
        self.records = load_records(self.dir, repair=True, notes=self.notes)
        upgrade = self.records.version == "1.0"
        self._gen = _Log(self.generations_path)
        self._scores = _Log(self.scores_path)
        if upgrade:
            for g in self.records.generations.values():
                self._gen.append(g.model_dump())
            for s in self.records.scores.values():
                self._scores.append(s.model_dump())
            self.notes.append(f"{V1_SAMPLES}: a version-1 run directory; its records are now also in {GENERATIONS} "
                              f"and {SCORES} (samples.jsonl is kept as it was)")
        return self.records

    def append_generation(self, g: Generation) -> None:
        assert self._gen is not None, "store not open"
        self._gen.append(g.model_dump())
        self.records.add_generation(g)

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


def run_items(run_dir: Path, records: RunRecords | None = None) -> dict[Key, dict]:
    """Every work item of a run directory as one view (generation + current verdict), by (benchmark, id, repeat)."""
    d = Path(run_dir)
    manifest = read_json(d / "manifest.json") if (d / "manifest.json").exists() else None
    records = records or load_records(d)
    out: dict[Key, dict] = {}
    for name in records.benchmarks():
        for item in records.items(name, current_scorer(manifest, records, name)):
            out[(item["benchmark"], item["sample_id"], item["repeat"])] = item
    return out
