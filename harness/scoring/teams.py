"""Teams (tasks/teams/*.yaml): model, target model and the individual benchmarks with the target's scores.

A target score given in the team file wins; otherwise it is taken from the target model's published scores. Each
individual benchmark is a canonical harness name (a native benchmark, `lmeval:<task>` or `lmms:<task>`);
`runnable_reason` says why the harness cannot run one (`harness run --team` skips it and says so, `harness points`
names it as missing with that reason, never as zero).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.config import _read_yaml, tasks_dir
from harness.errors import ConfigError
from harness.scoring.targets import load_target, target_value


def team_names() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "teams").glob("*.yaml") if not p.stem.startswith("_"))


def load_team(name: str) -> dict[str, Any]:
    path = Path(name) if name.endswith((".yaml", ".yml")) else tasks_dir() / "teams" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown team {name!r}; known teams: {', '.join(team_names())} "
                          "(or copy tasks/teams/_template.yaml)")
    team, _ = _read_yaml(path)
    target = load_target(team["target"]) if team.get("target") else None
    resolved = []
    for item in team.get("individual") or []:
        item = dict(item)
        if not item.get("benchmark"):
            raise ConfigError(f"{path}: every individual benchmark needs `benchmark:` (a harness name, e.g. docvqa, "
                              f"lmeval:<task>, lmms:<task>), got {item!r}")
        given = item.get("target_score")
        if given and (given.get("value") is None or not given.get("source")):
            raise ConfigError(f"{path}: {item['benchmark']}: target_score needs a value and its source (where the "
                              "number was published); leave target_score out when no source gives it")
        item["not_runnable"] = runnable_reason(item["benchmark"])
        if not item.get("target_score") and target is not None:
            value, vals = target_value(target, item["benchmark"])
            if value is not None:
                src = next(s for s in target["sources"] if s["id"] == vals[0]["source"])
                item["target_score"] = {"value": value, "source": src.get("url"), "date": src.get("date"),
                                        "from_target_file": target["name"]}
        resolved.append(item)
    team["individual"] = resolved
    team["_target"] = target
    return team


def runnable_reason(benchmark: str) -> str | None:
    """None when this harness can run `benchmark`; otherwise why not (one line, with the fix)."""
    import importlib.metadata

    from harness.config import benchmark_names

    for prefix, dist, extra in (("lmeval:", "lm-eval", "lmeval"), ("lmms:", "lmms-eval", "lmms")):
        if benchmark.startswith(prefix):
            try:
                importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                return f"needs {dist} (the `{extra}` extra, README)"
            return None
    if benchmark in benchmark_names():
        return None
    return ("not a benchmark of this harness (`harness list`), nor an lm-eval or lmms-eval task (lmeval:<task>, "
            "lmms:<task>)")
