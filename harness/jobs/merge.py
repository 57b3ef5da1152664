"""`harness merge DIR... --out DIR`: shards of one run (array tasks by benchmark and/or sample shard, or one run
finished on several machines) → one ordinary run directory: manifest.json, generations.jsonl, scores.jsonl and
summary.json (computed by harness.summary, benchmark metrics included, as for a single run).

Refused, naming the difference, when the parts are not the same measurement: another model, or for one benchmark
another task version / task hash / scorer / data checksum / generation settings / seed / repeats; or two parts
holding different answers for the same work item (named). For sample shards
(`harness run --shard I/N`, recorded in the manifest) every non-empty shard must be present exactly once; the merged
manifest then has the unsharded `samples` and `sample_ids_sha256`, the same as one unsharded run would have.
Parts scored by different scorers are refused: `harness score` each part first. The result is validated against the
JSON Schemas. A run directory that a live process is writing is never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.config import Thresholds
from harness.errors import ConfigError, DataError
from harness.jobs.shard import nonempty_shards
from harness.records import SCHEMA_VERSION
from harness.store import GENERATIONS, SCORES, RunRecords, RunStore, atomic_write_json, current_scorer, load_records, \
    read_json
from harness.summary import summarize_run

# what must agree for two parts of one benchmark to be one measurement
SAME = ("version", "task_sha256", "generation", "seed", "repeats", "metric", "scorer")


def _model_key(m: dict) -> tuple:
    model = m.get("model", {})
    return (model.get("engine"), model.get("model"), model.get("served_model_name"))


def _part(d: Path) -> dict[str, Any]:
    d = Path(d)
    if not (d / "manifest.json").exists():
        raise DataError(f"{d}: no manifest.json; not a run directory (did that task run? see its job log)")
    manifest = read_json(d / "manifest.json")
    summary = read_json(d / "summary.json") if (d / "summary.json").exists() else {}
    notes: list[str] = []
    records = load_records(d, notes=notes)
    for note in notes:
        print(f"note: {d}: {note}", file=sys.stderr)
    for name, m in (manifest.get("benchmarks") or {}).items():  # version-1 parts: their scores are `v1`
        m.setdefault("scorer", current_scorer(manifest, records, name))
    return {"dir": d, "manifest": manifest, "summary": summary, "records": records}


def _check_same(name: str, parts: list[tuple[dict, dict]]) -> None:
    (ref_part, ref), rest = parts[0], parts[1:]
    for part, m in rest:
        diff = [k for k in SAME if m.get(k) != ref.get(k)]
        if (m.get("data") or {}).get("sha256") != (ref.get("data") or {}).get("sha256"):
            diff.append("data checksum")
        if diff == ["scorer"]:
            raise ConfigError(f"{name}: {ref_part['dir']} and {part['dir']} were scored by different scorers; run "
                              "`harness score DIR` on each part first, then merge")
        if diff:
            raise ConfigError(f"{name}: {ref_part['dir']} and {part['dir']} differ in {', '.join(diff)}; they are "
                              "not parts of one run and cannot be merged")


def _merge_samples(name: str, parts: list[tuple[dict, dict]], allow_partial: bool) -> dict[str, Any]:
    """samples / sample_ids_sha256 / items of the merged benchmark, checking shard completeness."""
    shards = [(p, m["shard"]) for p, m in parts if m.get("shard")]
    m0 = parts[0][1]
    if not shards:
        if len({m.get("sample_ids_sha256") for _, m in parts}) > 1:
            raise ConfigError(f"{name}: {', '.join(str(p['dir']) for p, _ in parts)} planned different samples and "
                              "are not shards (no `shard` in their manifests); they cannot be merged into one score")
        return {"samples": m0.get("samples"), "sample_ids_sha256": m0.get("sample_ids_sha256")}
    if len(shards) != len(parts):
        raise ConfigError(f"{name}: some parts are shards and some are not; merge shards of one run only")
    lists = {(s["count"], s["of_samples"], s["of_sample_ids_sha256"]) for _, s in shards}
    if len(lists) > 1:
        raise ConfigError(f"{name}: the shards split different sample lists or shard counts "
                          f"({', '.join(str(p['dir']) for p, _ in shards)}); merge shards of one run only")
    count, of_samples, of_sha = lists.pop()
    seen: dict[int, Path] = {}
    for p, s in shards:
        if s["index"] in seen:
            raise ConfigError(f"{name}: shard {s['index']}/{count} is in both {seen[s['index']]} and {p['dir']}; "
                              "give each shard once")
        seen[s["index"]] = p["dir"]
    missing = sorted(set(range(nonempty_shards(of_samples, count))) - set(seen))
    if missing and not allow_partial:
        raise DataError(f"{name}: shards {', '.join(f'{i}/{count}' for i in missing)} are missing; run them (or "
                        "pass --allow-partial to merge what is there, marked incomplete)")
    return {"samples": of_samples, "sample_ids_sha256": of_sha, "merged_shards": sorted(seen), "shard_count": count}


def merge_runs(dirs: list[Path], out: Path, force: bool = False, allow_partial: bool = False) -> dict:
    """Write the merged run directory `out`; returns its summary."""
    if not dirs:
        raise ConfigError("give the run directories to merge")
    out = Path(out)
    if any(Path(d).resolve() == out.resolve() for d in dirs):
        raise ConfigError(f"--out {out} is one of the inputs; merge into a new directory")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"{out} exists and is not empty; choose a new --out (or --force to replace it)")
        if not (out / "manifest.json").exists():
            raise ConfigError(f"{out} is not a run directory; refusing to replace it with --force")
        live = RunStore(out)
        live.lock()  # raises when a run is writing there
        live.close()
    parts = [_part(Path(d)) for d in dirs]
    models = {_model_key(p["manifest"]) for p in parts}
    if len(models) > 1:
        raise ConfigError("the run directories hold different models: "
                          + "; ".join(f"{p['dir']}: {_model_key(p['manifest'])}" for p in parts))
    first = parts[0]["manifest"]
    th = Thresholds(**first["thresholds"]) if first.get("thresholds") else Thresholds()

    by_bench: dict[str, list[tuple[dict, dict]]] = {}
    for p in parts:
        for name, m in p["manifest"].get("benchmarks", {}).items():
            by_bench.setdefault(name, []).append((p, m))

    benchmarks_manifest: dict[str, dict] = {}
    merged_records = RunRecords()
    conflicts: list[str] = []
    for name, bparts in by_bench.items():
        _check_same(name, bparts)
        merged = dict(bparts[0][1])
        merged.pop("shard", None)
        merged.update(_merge_samples(name, bparts, allow_partial))
        merged["items"] = (merged.get("samples") or 0) * merged["repeats"]
        merged["merged_from"] = [str(p["dir"]) for p, _ in bparts]
        benchmarks_manifest[name] = merged
        seen: dict = {}
        for p, _ in bparts:
            recs: RunRecords = p["records"]
            for key, g in recs.generations.items():
                if key[0] != name:
                    continue
                prev = seen.get(key)
                if prev is not None and prev[1].error is None and g.error is None and \
                        (prev[1].response, prev[1].reasoning) != (g.response, g.reasoning):
                    conflicts.append(f"{name} {key[1]}#{key[2]}: {prev[0]} and {p['dir']} hold different answers")
                    continue
                if prev is None or prev[1].error is not None:
                    seen[key] = (p["dir"], g)
            for (key, scorer), sc in recs.scores.items():
                if key[0] == name and scorer == merged.get("scorer"):
                    merged_records.add_score(sc)
        for _, g in seen.values():
            merged_records.add_generation(g)
    if conflicts:
        raise ConfigError(f"{len(conflicts)} work items have different answers in different parts (not shards of one "
                          "run, or a run copied and continued twice):\n  - " + "\n  - ".join(conflicts[:20]))
    if not benchmarks_manifest:
        raise DataError(f"no benchmarks in {', '.join(map(str, dirs))}")

    model_name = next((p["summary"].get("model") for p in parts if p["summary"].get("model")), None)
    model_name = model_name or first["model"].get("name") or first["model"].get("model")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        **first,
        "schema_version": SCHEMA_VERSION,
        "run_id": out.name,
        "created": now,
        "updated": now,
        "command": list(sys.argv),
        "benchmarks": benchmarks_manifest,
        "merged_from": [{"dir": str(p["dir"]), "run_id": p["manifest"].get("run_id"),
                         "created": p["manifest"].get("created"), "hardware": p["manifest"].get("hardware"),
                         "harness": p["manifest"].get("harness"), "engine": p["manifest"].get("engine")}
                        for p in parts],
    }
    summary = summarize_run(manifest, merged_records, th, model=model_name)
    _write(out, manifest, merged_records, summary, force)
    return summary


def _write(out: Path, manifest: dict, records: RunRecords, summary: dict, force: bool) -> None:
    """Build the directory beside `out`, validate it, then move it into place (a failed merge leaves nothing)."""
    from harness.schemas import validate_run_dir

    tmp = out.with_name(f".{out.name}.merging-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        order = lambda r: (r.benchmark, r.repeat)  # noqa: E731
        for fname, rows in ((GENERATIONS, records.generations.values()), (SCORES, records.scores.values())):
            with open(tmp / fname, "w", encoding="utf-8") as f:
                for r in sorted(rows, key=order):
                    f.write(json.dumps(r.model_dump(), ensure_ascii=False) + "\n")
        atomic_write_json(tmp / "manifest.json", manifest)
        atomic_write_json(tmp / "summary.json", summary)
        problems = validate_run_dir(tmp)
        if problems:
            raise DataError("the merged run directory does not match the results schema:\n  - "
                            + "\n  - ".join(problems[:20]))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)

