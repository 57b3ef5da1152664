"""Local data for lm-eval tasks: every `datasets.load_dataset(hub_id, config)` lm-eval makes is served from disk.

lm-eval builds each task's dataset with `datasets.load_dataset(path=<dataset_path>, name=<dataset_name>, ...)`.
While a task is built, that call is intercepted and answered from a local copy, so that task configs stay exactly
upstream's (same hash, comparable) and groups, tags and Python tasks all work. A local copy of `<hub id>` with
config `<name>` is looked up under each data root, in order:

  ROOT/<hub id>/<name>/<split>.<ext>      split files (ext: jsonl, json, parquet, csv); no <name>/ level when the
  ROOT/<hub id>/<split>.<ext>             dataset has no config name, or as a fallback
  ROOT/<hub id>/                          a snapshot of the hub repository (`huggingface-cli download --repo-type
                                          dataset <hub id> --local-dir ROOT/<hub id>`), loaded with its config name;
                                          recognised by files at its top (README.md, a loading script, data files)

Roots, in order: `--data lmeval:<task>=DIR` (DIR is such a ROOT, or directly the directory holding the split files
when the task reads one dataset), then `<data dir>/lmeval` for each data dir (`--data-dir`, HARNESS_DATA_DIR,
../shared/data). A split the task names but the local copy lacks is served empty (fine for an unused few-shot split;
an empty evaluation split is refused after the task is built). Without a local copy the hub is used unless
HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set, in which case the error names the paths searched.
Every dataset served is recorded (hub id, config, local path, per-split rows and file sha256).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from harness.data import hub_offline, sha256_file
from harness.errors import DataError

EXTENSIONS = {"jsonl": "json", "json": "json", "parquet": "parquet", "csv": "csv"}


@dataclass
class DataLog:
    """What `load_dataset` calls were answered, and how (for the manifest)."""

    roots: list[Path]
    direct: Path | None = None  # --data lmeval:<task>=DIR
    served: list[dict[str, Any]] = field(default_factory=list)

    def absent(self) -> str:
        """The splits lm-eval asked for that no local copy holds, for error messages."""
        return "; ".join(f"{s['id']} ({s['config']}) at {s['path']} has no {', '.join(s['absent_splits'])} split "
                         f"(it has {', '.join(s['splits'])})" for s in self.served if s.get("absent_splits"))

    def source(self) -> dict[str, Any]:
        kinds = {s["kind"] for s in self.served}
        kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "none")
        digest = hashlib.sha256(
            "|".join(f"{s.get('id')}:{s.get('config')}:{s.get('sha256') or s.get('revision')}" for s in self.served)
            .encode()).hexdigest()
        first = self.served[0] if len(self.served) == 1 else {}
        return {"kind": kind, "path": first.get("path"), "id": first.get("id"), "revision": first.get("revision"),
                "sha256": digest, "datasets": self.served}


def _split_files(d: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    if not d.is_dir():
        return out
    for p in sorted(d.iterdir()):
        stem, _, ext = p.name.partition(".")
        if p.is_file() and ext in EXTENSIONS and stem not in out:
            out[stem] = p
    return out


def find_local(roots: list[Path], hub_id: str, name: str | None,
               direct: Path | None = None) -> tuple[str, Path, dict[str, Path]] | None:
    """("files", dir, {split: file}) or ("snapshot", dir, {}) for the first root holding a copy, else None.
    `direct` (the task's --data DIR) may also hold the split files itself, or under a <name>/ directory."""
    bases = [(root / hub_id, True) for root in roots] + ([(direct, False)] if direct is not None else [])
    for base, is_repo in bases:
        for d in ([base / name] if name else []) + [base]:
            files = _split_files(d)
            if files:
                return "files", d, files
        if is_repo and base.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in base.iterdir()):
            return "snapshot", base, {}  # a hub repository has files at its top (README.md, a script, parquet)
    return None


def _load_files(load, files: dict[str, Path]):
    exts = {EXTENSIONS[p.name.partition(".")[2]] for p in files.values()}
    if len(exts) != 1:
        raise DataError(f"split files {sorted(map(str, files.values()))} mix formats; use one of jsonl/parquet/csv")
    return load(exts.pop(), data_files={s: str(p) for s, p in files.items()})


class _Interceptor:
    def __init__(self, log: DataLog, real):
        self.log, self.real = log, real

    def __call__(self, path: str, name: str | None = None, *args: Any, **kwargs: Any):
        import datasets

        found = find_local(self.log.roots, path, name, self.log.direct)
        if found is None:
            if hub_offline():
                where = ", ".join(str(r / path / (name or "")) for r in self.log.roots) or "(no data root)"
                raise DataError(
                    f"dataset {path!r} (config {name!r}) has no local copy (looked in {where}) and the hub is "
                    f"offline; put <split>.jsonl files there, or a snapshot of the hub repository in "
                    f"<root>/{path}/, or pass --data lmeval:<task>=DIR (lmms:<task>=DIR for lmms-eval tasks)")
            self.log.served.append({"kind": "hf", "id": path, "config": name,
                                    "revision": kwargs.get("revision")})
            return self.real(path, name, *args, **kwargs)
        kind, where, files = found
        if where == self.log.direct and any(x.get("path") == str(where) and (x["id"], x["config"]) != (path, name)
                                            for x in self.log.served):
            raise DataError(f"{where} holds split files for one dataset but the task reads several ({path!r} "
                            f"config {name!r} too); lay it out as {where}/<hub id>/<config>/<split>.jsonl")
        if kind == "snapshot":
            ds = self.real(str(where), name)
            digest = hashlib.sha256("".join(sha256_file(p) for p in sorted(where.rglob("*"))
                                            if p.is_file() and ".cache" not in p.parts).encode()).hexdigest()
        else:
            ds = _load_files(self.real, files)
            digest = hashlib.sha256("".join(f"{s}:{sha256_file(p)}" for s, p in sorted(files.items()))
                                    .encode()).hexdigest()
        entry = {"kind": "local", "id": path, "config": name, "path": str(where), "sha256": digest,
                 "splits": {s: len(v) for s, v in ds.items()}}
        self.log.served.append(entry)
        return _with_empty_splits(ds, datasets, entry)


def _with_empty_splits(ds, datasets, entry: dict[str, Any]):
    """A split the task names but the local copy lacks reads as an empty dataset (same features), noted in
    entry["absent_splits"]."""

    class AllSplits(datasets.DatasetDict):
        def __missing__(self, split):
            if split not in entry.setdefault("absent_splits", []):
                entry["absent_splits"].append(split)
            features = next(iter(self.values())).features
            return datasets.Dataset.from_dict({k: [] for k in features}, features=features)

    return AllSplits(ds)


@contextlib.contextmanager
def local_datasets(log: DataLog) -> Iterator[DataLog]:
    """Within the block, lm-eval's `datasets.load_dataset` calls are answered from the data roots."""
    import datasets

    real = datasets.load_dataset
    datasets.load_dataset = _Interceptor(log, real)
    try:
        yield log
    finally:
        datasets.load_dataset = real


def data_roots(task: str, override: Path | None, data_dirs: list[Path]) -> list[Path]:
    roots = []
    if override is not None:
        if not override.is_dir():
            raise DataError(f"--data lmeval:{task}={override}: not a directory (give the directory holding the "
                            "split files, or a data root with <hub id>/ directories)")
        roots.append(override)
    roots += [d / "lmeval" for d in data_dirs if (d / "lmeval").is_dir()]
    return roots
