"""JSON Schemas (draft 2020-12) of the run directory files: the contract with external scoring tools.

    manifest.schema.json      manifest.json
    generations.schema.json   one line of generations.jsonl
    scores.schema.json        one line of scores.jsonl
    summary.schema.json       summary.json

They are generated from the record types in harness/records.py (`python -m harness.schemas` rewrites them; a test
fails when the shipped files differ). Each carries `x-schema-version`, equal to `harness.records.SCHEMA_VERSION`; a
breaking change bumps both. The version-1 schemas (`*.v1.schema.json`: manifest, samples, summary) stay for reading
run directories written before the two-stage format.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

NAMES = ("manifest", "generations", "scores", "summary")
V1_NAMES = ("manifest.v1", "samples.v1", "summary.v1")
_TITLES = {
    "manifest": "harness run manifest (manifest.json)",
    "generations": "one generation record (a line of generations.jsonl)",
    "scores": "one score record (a line of scores.jsonl)",
    "summary": "harness run summary (summary.json)",
}


def generate(name: str) -> dict:
    """The schema of `name`, built from its record type."""
    from harness.records import MODELS, SCHEMA_VERSION

    schema = MODELS[name].model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://harness.local/schemas/{name}/{SCHEMA_VERSION}", "x-schema-version": SCHEMA_VERSION,
            "title": _TITLES[name], **{k: v for k, v in schema.items() if k != "title"}}


def write_all(directory: Path | None = None) -> list[Path]:
    d = Path(directory or Path(__file__).parent)
    out = []
    for name in NAMES:
        p = d / f"{name}.schema.json"
        p.write_text(json.dumps(generate(name), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        out.append(p)
    return out


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    if name not in NAMES + V1_NAMES:
        raise ValueError(f"unknown schema {name!r}; choose one of {', '.join(NAMES + V1_NAMES)}")
    return resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict:
    """The schema as a fresh dict (callers may modify it)."""
    return json.loads(_load(name))


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def _problems(name: str, where: str, instance) -> list[str]:
    out = []
    for e in sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path) or "(top level)"
        msg = f"is {e.instance!r}, expected {e.validator_value!r}" if e.validator == "const" else e.message
        out.append(f"{where}: {path.lstrip('.')}: {msg}")
    return out


def _lines(name: str, p: Path) -> list[str]:
    problems = []
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{p.name}:{n}: not valid JSON ({e.msg})")
                continue
            problems += _problems(name, f"{p.name}:{n}", rec)
    return problems


def validate_run_dir(path: str | Path) -> list[str]:
    """Human-readable problems with a run directory's files (empty list: all exist and match their schemas). A
    version-1 directory (samples.jsonl, no generations.jsonl) is checked against the version-1 schemas."""
    d = Path(path)
    v1 = not (d / "generations.jsonl").exists() and (d / "samples.jsonl").exists()
    problems: list[str] = []
    for name, fname in (("manifest", "manifest.json"), ("summary", "summary.json")):
        p = d / fname
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{fname}: missing")
            continue
        except json.JSONDecodeError as e:
            problems.append(f"{fname}: not valid JSON ({e})")
            continue
        problems += _problems(f"{name}.v1" if v1 else name, fname, data)
    if v1:
        return problems + _lines("samples.v1", d / "samples.jsonl")
    for name, fname in (("generations", "generations.jsonl"), ("scores", "scores.jsonl")):
        p = d / fname
        if not p.exists():
            problems.append(f"{fname}: missing")
            continue
        problems += _lines(name, p)
    return problems


__all__ = ["NAMES", "V1_NAMES", "generate", "load_schema", "validate_run_dir", "write_all"]

