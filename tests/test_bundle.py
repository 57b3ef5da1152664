"""Offline bundles: `harness data pull` (from a local directory, and through the `datasets` library from a local
dataset standing in for the hub), `harness data verify`, and a run that reads only the bundle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conftest import REPO, SHARED_DATA, read_samples
from harness.bundle import MANIFEST, pull, verify
from harness.data import read_rows, sha256_file
from harness.errors import ConfigError, DataError
from harness.jobs.commands import register

cli = CliRunner()
SMOKE = ["mmlu_pro", "aime2025", "click"]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_pull_from_a_directory_then_verify_catches_every_change(tmp_path):
    bundle = tmp_path / "bundle"
    r = cli.invoke(_app(), ["data", "pull", "--suite", "smoke", "--out", str(bundle), "--from", str(SHARED_DATA)])
    assert r.exit_code == 0, r.output
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert manifest["suites"] == ["smoke"] and sorted(manifest["benchmarks"]) == sorted(SMOKE)
    aime = manifest["benchmarks"]["aime2025"]
    assert aime["files"] == {"aime2025/test.jsonl": {"sha256": sha256_file(SHARED_DATA / "aime2025" / "test.jsonl"),
                                                     "bytes": (SHARED_DATA / "aime2025" / "test.jsonl").stat().st_size}}
    assert aime["rows"] == 30 and aime["source"]["kind"] == "dir"
    ok = cli.invoke(_app(), ["data", "verify", str(bundle)])
    assert ok.exit_code == 0 and "ok: 3 files of 3 benchmarks match" in ok.output

    target = bundle / "click" / "test.jsonl"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    (bundle / "click" / "extra.jsonl").write_text("{}\n")
    (bundle / "aime2025" / "test.jsonl").unlink()
    bad = cli.invoke(_app(), ["data", "verify", str(bundle)])
    assert bad.exit_code == 1
    assert "click: click/test.jsonl changed" in bad.output
    assert "aime2025: aime2025/test.jsonl is missing" in bad.output
    assert "click/extra.jsonl: not listed in MANIFEST.json" in bad.output
    assert verify(tmp_path / "nothing")[0] == [f"{tmp_path / 'nothing' / MANIFEST}: missing; this is not a bundle "
                                               "(make one with `harness data pull`)"]


def test_pull_errors_are_named(tmp_path):
    with pytest.raises(DataError, match=r"aime2025/test.jsonl does not exist \(the --from directory must hold"):
        pull(["aime2025"], tmp_path / "b", source=tmp_path)
    with pytest.raises(ConfigError, match="unknown benchmark 'nope'"):
        pull(["aime2025", "nope"], tmp_path / "b", source=SHARED_DATA)
    assert not (tmp_path / "b" / "aime2025").exists()  # nothing written before every name is known


def test_a_run_reads_only_the_bundle_and_records_its_checksums(tmp_path, scripted_server, monkeypatch):
    bundle = tmp_path / "bundle"
    pull(SMOKE, bundle, source=SHARED_DATA, suite="smoke")
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("HARNESS_DATA_DIR", str(empty))  # the air gap: nothing but the bundle
    from harness.cli import app

    # a reply each benchmark can read (AIME: the last \boxed{} decides), so the run is valid and exits 0
    with scripted_server("--reply", "The answer is (A). \\boxed{1}") as srv:
        base = ["run", "--benchmarks", "aime2025,click", "--engine", "openai", "--model", srv.model, "--base-url",
                srv.base_url, "--limit", "3", "--repeats", "1", "--max-tokens", "8", "--no-progress"]
        missing = cli.invoke(app, base + ["--out", str(tmp_path / "r0")])
        assert missing.exit_code == 2 and "no local data found" in missing.output
        r = cli.invoke(app, base + ["--out", str(tmp_path / "run"), "--data-dir", str(bundle)])
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "run" / "manifest.json").read_text())["benchmarks"]
    files = json.loads((bundle / MANIFEST).read_text())["benchmarks"]
    for b in ("aime2025", "click"):
        path = Path(run[b]["data"]["path"])
        assert path.is_relative_to(bundle)
        assert run[b]["data"]["sha256"] == files[b]["files"][path.relative_to(bundle).as_posix()]["sha256"]
    assert len(read_samples(tmp_path / "run")) == 6


def test_pull_through_datasets_writes_upstream_rows_reproducibly(tmp_path, monkeypatch):
    """The hub code path (datasets.load_dataset at the task's revision) against a local parquet dataset, since the
    hub is unreachable here."""
    if not os.environ.get("CI"):
        pytest.importorskip("datasets")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = read_rows(SHARED_DATA / "aime2025" / "test.jsonl")
    source = tmp_path / "hub" / "aime2025"
    (source / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), source / "data" / "test-00000-of-00001.parquet")
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    y = tasks / "benchmarks" / "aime2025.yaml"
    text = y.read_text()
    assert "\n  hf: " in text and "\n  split: " in text
    lines = [f"  hf: {source}" if ln.startswith("  hf: ") else "  split: test" if ln.startswith("  split: ")
             else "  revision: null" if ln.startswith("  revision: ") else ln for ln in text.splitlines()]
    y.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tasks))

    first = pull(["aime2025"], tmp_path / "b1")
    second = pull(["aime2025"], tmp_path / "b2")
    e = first["benchmarks"]["aime2025"]
    assert e["source"]["kind"] == "hub" and e["rows"] == 30 and "pins no revision" in e["warning"]
    assert read_rows(tmp_path / "b1" / "aime2025" / "test.jsonl") == rows  # the upstream rows, as the harness reads
    assert e["files"] == second["benchmarks"]["aime2025"]["files"]  # same revision, same bytes
    assert verify(tmp_path / "b1")[0] == []
