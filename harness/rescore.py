"""`harness score RUN_DIR`: re-score a run's stored generations in place with the current scorers.

The plan is rebuilt from the manifest (the same samples, repeats, shard and data, checked against the recorded
checksums and prompt hashes); every item whose verdict is missing, failed, or was made by another scorer fingerprint
is scored from its stored generation. No model engine is started. Judged benchmarks keep their verdicts unless a
judge is given (`--judge`), which re-scores them when it differs from the judge that made them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import config as cfg
from harness.errors import ConfigError, DataError
from harness.shard import select_shard
from harness.store import read_json


def model_of(manifest: dict) -> cfg.ModelSpec:
    m = manifest.get("model") or {}
    known = {k: v for k, v in m.items() if k in cfg.ModelSpec.model_fields}
    try:
        return cfg.ModelSpec(**known)
    except Exception:  # noqa: BLE001 - a manifest from another version: the name is all the summary needs
        return cfg.ModelSpec(engine="replay", model=str(m.get("model") or "model"), name=m.get("name"))


def plan_from_manifest(name: str, entry: dict[str, Any], spec: cfg.ModelSpec, data_dirs: list[Path] | None,
                       data: Path | None, roles: tuple[str, ...], generated: set[tuple[str, int]] | None = None):
    """The BenchPlan a run directory's manifest entry describes."""
    from harness import runner

    shard = entry.get("shard")
    limit = shard["of_samples"] if shard else entry.get("samples")
    path = (entry.get("data") or {}).get("path")
    if data is None and path and Path(path).exists():
        data = Path(path)
    (plan,) = runner.plan_benchmarks(
        [cfg.SuiteEntry(name=name)], spec, repeats=entry.get("repeats"), limit=limit,
        generation=cfg.GenerationParams(**(entry.get("generation") or {})),
        data_overrides={name: data} if data else None, data_dirs=data_dirs, roles=roles)
    if shard:
        plan.samples = select_shard(plan.samples, shard["index"], shard["count"])
    want = (entry.get("data") or {}).get("sha256")
    if want and plan.data_source.get("sha256") != want:
        raise DataError(f"{name}: the data at {plan.data_source.get('path')} is not the file the run used (sha256 "
                        f"{want[:12]}…); give the original with --data {name}=PATH")
    if generated is not None and entry.get("items") not in (None, len(plan.samples) * plan.repeats):
        known = {s.id for s in plan.samples}
        plan.keys = sorted((k for k in generated if k[0] in known), key=lambda k: (k[1], k[0]))
    return plan


def rescore_run(run_dir: Path, judge: str | None = None, judge_cache: Path | None = None,
                benchmarks: list[str] | None = None, data_dirs: list[Path] | None = None,
                data: dict[str, Path] | None = None, progress: bool = False) -> dict:
    from harness import runner
    from harness.responses import judge_engine
    from harness.store import load_records

    run_dir = Path(run_dir)
    manifest = read_json(run_dir / "manifest.json")
    entries = manifest.get("benchmarks") or {}
    if benchmarks:
        unknown = sorted(set(benchmarks) - set(entries))
        if unknown:
            raise ConfigError(f"{', '.join(unknown)}: not in {run_dir} (it has {', '.join(sorted(entries))})")
    records = load_records(run_dir, lean=True)
    spec = model_of(manifest)
    roles = {"judge": judge_engine(judge, judge_cache or run_dir / "judge_cache.jsonl")} if judge else {}
    plans = []
    for name, entry in entries.items():
        if (benchmarks and name not in benchmarks) or entry.get("module") in ("lmeval", "lmms"):
            continue  # lm-eval / lmms-eval entries are scored inside those tools: their verdicts stand
        generated = {(sid, rep) for (b, sid, rep) in records.generations if b == name}
        plans.append(plan_from_manifest(name, entry, spec, data_dirs, (data or {}).get(name),
                                        ("judge", "user_sim"), generated))
    del records  # the run loads its own (lean) copy: never two at once
    opts = runner.RunOptions(out=run_dir, run_id=manifest.get("run_id") or run_dir.name, progress=None, roles=roles,
                             thresholds=cfg.Thresholds(**(manifest.get("thresholds") or {})))
    return runner.run(plans, spec, None, opts, manifest)


def rescore_check(run_dir: Path, data_dirs: list[Path] | None = None, data: dict[str, Path] | None = None,
                  roles: dict | None = None) -> dict[str, dict[str, Any]]:
    """Score every stored generation again, in memory, and compare with the stored verdicts (the audit in
    `harness verify`). Judged benchmarks are checked only when a judge is given; lm-eval entries are not."""
    import asyncio

    from harness.runner import role_callables
    from harness.score import ScorePool, fingerprint, role_identity
    from harness.store import current_scorer, load_records

    run_dir = Path(run_dir)
    manifest = read_json(run_dir / "manifest.json")
    records = load_records(run_dir, lean=True)
    spec = model_of(manifest)
    roles = roles or {}
    out: dict[str, dict[str, Any]] = {}
    jobs = []
    for name, entry in (manifest.get("benchmarks") or {}).items():
        if entry.get("module") in ("lmeval", "lmms"):
            continue
        generated = {(sid, rep) for (b, sid, rep) in records.generations if b == name}
        try:
            plan = plan_from_manifest(name, entry, spec, data_dirs, (data or {}).get(name), ("judge", "user_sim"),
                                      generated)
        except DataError as e:  # other data than the run's: verify reports the checksum; nothing to compare
            out[name] = {"checked": 0, "skipped": str(e)}
            continue
        if "judge" in plan.benchmark.roles and "judge" not in roles:
            out[name] = {"checked": 0, "skipped": "judged: give --judge to re-score it"}
            continue
        stored_fp = current_scorer(manifest, records, name)
        now_fp, _ = fingerprint(plan.benchmark, role_identity(roles.get("judge")))
        by_id = {s.id: s for s in plan.samples}
        items = [(k, by_id[k[1]]) for k, g in records.generations.items()
                 if k[0] == name and g.error is None and k[1] in by_id and records.score_for(k, stored_fp)]
        out[name] = {"checked": len(items), "stored_scorer": stored_fp, "scorer_now": now_fp, "differ": []}
        jobs.append((plan, items, stored_fp))

    async def go() -> None:
        fresh: dict = {}
        started = []
        for e in roles.values():
            await e.start(run_dir)
            started.append(e)

        pool = ScorePool(role_callables(None, roles), lambda rec: fresh.__setitem__(rec.key, rec))
        try:
            for plan, items, _ in jobs:
                for key, sample in items:
                    pool.submit(plan.benchmark, "check", sample, plan.benchmark.prompt(sample, key[2]),
                                records.generation(key))
            await pool.join()
        finally:
            await pool.close()
            for e in started:
                await e.close()
        for plan, items, stored_fp in jobs:
            differ = out[plan.name]["differ"]
            for key, _ in items:
                old, new = records.score_for(key, stored_fp), fresh.get(key)
                if new is None or (old.score, old.extracted, old.error) != (new.score, new.extracted, new.error):
                    differ.append({"sample_id": key[1], "repeat": key[2], "stored": old.score,
                                   "rescored": None if new is None else new.score,
                                   "error": None if new is None else new.error})

    asyncio.run(go())
    return out
