"""`harness view`: the item browser of real finished runs (the smoke suite and IFBench on replayed answers), opened
from a file:// URL in headless Chromium; the test reads the DOM the page's script drew and looks at a screenshot."""

from __future__ import annotations

import base64
import gzip
import importlib.resources
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA
from harness.cli import app
from harness.records import Generation, ScoreRecord
from harness.store import load_records, run_items

cli = CliRunner()
FLIP = {"mmlu_pro": 3, "click": 2}  # items right in run A and answered wrongly in run B, per benchmark
WRONG_A = {"mmlu_pro": 2}  # items answered wrongly in both runs


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI installs the Debian package `chromium`)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return exe


def _browse(page: Path, tmp: Path, fragment: str = "", shot: Path | None = None, size=(1400, 900)) -> str:
    """The DOM of `page` after its scripts ran (or a screenshot), loaded from a file:// URL with no network."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=10000", f"--window-size={size[0]},{size[1]}",
           f"--screenshot={shot}" if shot else "--dump-dom", page.as_uri() + (f"#{fragment}" if fragment else "")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def _count(dom: str) -> dict[str, int]:
    m = re.search(r'<div id="hv-count"([^>]*)>', dom)
    assert m, dom[:3000]
    return {k: int(v) for k, v in re.findall(r'data-(\w+)="(\d+)"', m.group(1))}


def _rows(dom: str) -> list[tuple[str, str]]:
    """(class, sample id) of each drawn table row, in order."""
    return [(cls, sid) for cls, sid in
            re.findall(r'<tr class="(item[^"]*)" data-i="\d+"><td class="r">\d+</td><td title="[^"]*">([^<]*)</td>',
                       dom)]


def _smoke_responses(path: Path, wrong: dict[str, set[str]], truncated: set[str] = frozenset()) -> dict:
    """Answers to the smoke suite's items (the real MMLU-Pro, AIME 2025 and CLIcK slices), right unless listed."""
    from harness import config, runner

    suite = config.load_suite("smoke")
    plans = runner.plan_benchmarks(suite.benchmarks, config.ModelSpec(), suite_generation=suite.generation)
    rows, ids = [], {}
    for p in plans:
        ids[p.name] = [s.id for s, _ in p.items()]
        for s, rep in p.items():
            target = p.benchmark.prompt(s, rep).target
            answer = target if s.id not in wrong.get(p.name, ()) else ("A" if target != "A" else "B")
            text = {"mmlu_pro": f"the answer is ({answer})", "aime2025": f"\\boxed{{{answer}}}",
                    "click": f"정답: {answer}"}[p.name]
            row = {"benchmark": p.name, "sample_id": s.id, "repeat": rep, "response": text,
                   "reasoning": f"Reading question {s.id} carefully. " * 40, "completion_tokens": 100 + len(rows)}
            if s.id in truncated:
                row["finish_reason"] = "length"
            rows.append(row)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return ids


def _run(tmp: Path, name: str, responses: Path, *args: str) -> Path:
    out = tmp / name
    r = cli.invoke(app, ["run", "--engine", "replay", "--responses", str(responses), "--out", str(out), "--no-progress",
                         *args])
    assert r.exit_code in (0, 3), r.output  # 3: finished, some benchmark flagged invalid (wrong answers are unparsed)
    return out


@pytest.fixture
def smoke_runs(tmp_path):
    ids = _smoke_responses(tmp_path / "probe.jsonl", {})
    both = {b: set(ids[b][-n:]) for b, n in WRONG_A.items()}
    flips = {b: set(ids[b][:n]) for b, n in FLIP.items()}
    _smoke_responses(tmp_path / "a.jsonl", both, truncated={ids["mmlu_pro"][4]})
    _smoke_responses(tmp_path / "b.jsonl", {b: both.get(b, set()) | flips.get(b, set()) for b in ids})
    a = _run(tmp_path, "run-a", tmp_path / "a.jsonl", "--suite", "smoke")
    b = _run(tmp_path, "run-b", tmp_path / "b.jsonl", "--suite", "smoke")
    return a, b, ids, flips


def _view(*args: str) -> Path:
    r = cli.invoke(app, ["view", *args])
    assert r.exit_code == 0, r.output
    m = re.search(r"written: (\S+) \((\d+) items", r.output)
    assert m, r.output
    return Path(m.group(1))


def test_one_run_view_counts_filters_and_opens_items(smoke_runs, tmp_path):
    a, _, ids, _ = smoke_runs
    page = _view(str(a))
    assert page == a / "view.html"
    html = page.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html  # nothing fetched
    items = run_items(a, load_records(a))  # with the answers' texts
    for bench in ids:
        mine = [v for k, v in items.items() if k[0] == bench]
        dom = _browse(page, tmp_path, f"b={bench}")
        assert _count(dom) == {"shown": len(mine), "total": len(mine)}, bench
        assert len(_rows(dom)) == len(mine) == len(ids[bench])
        assert f'data-bench="{bench}"' in dom

    mmlu = [v for k, v in items.items() if k[0] == "mmlu_pro"]
    wrong = sum(v["score"] is not None and v["score"] < 1 for v in mmlu)
    assert wrong == WRONG_A["mmlu_pro"]  # the two answered wrongly
    dom = _browse(page, tmp_path, "b=mmlu_pro&f=wrong")
    assert _count(dom) == {"shown": wrong, "total": len(mmlu)}
    assert {sid for _, sid in _rows(dom)} == set(ids["mmlu_pro"][-2:])
    assert _count(_browse(page, tmp_path, "b=mmlu_pro&f=truncated"))["shown"] == 1
    cats = {v["category"] for v in mmlu}
    cat = sorted(cats)[0]
    assert _count(_browse(page, tmp_path, f"b=mmlu_pro&c={cat}"))["shown"] == sum(v["category"] == cat for v in mmlu)

    # one item: the answer, the verdict and the rule that decided it, the prompt rebuilt from the data
    sid = ids["mmlu_pro"][-1]
    item = items[("mmlu_pro", sid, 0)]
    dom = _browse(page, tmp_path, f"b=mmlu_pro&s={sid}&r=0")
    detail = dom[dom.index('id="hv-detail"'):]
    assert f'<pre class="answer">{item["response"]}</pre>' in detail
    assert "wrong (0)" in detail and f"extraction rule: {item['details']['rule']}" in detail
    assert "<summary>Prompt (1 message)</summary>" in detail and "Reasoning (" in detail
    assert "prompts not shown" not in dom


def test_two_run_view_lists_flipped_items_first(smoke_runs, tmp_path):
    a, b, ids, flips = smoke_runs
    page = _view(str(a), str(b), "--out", str(tmp_path / "ab.html"))
    ia, ib = run_items(a), run_items(b)
    for bench in ids:
        changed = {k[1] for k in ia if k[0] == bench and ia[k]["score"] != ib[k]["score"]}
        assert changed == flips.get(bench, set())  # the runs differ exactly where the answers were changed
        dom = _browse(page, tmp_path, f"b={bench}")
        c = _count(dom)
        assert c["total"] == len(ids[bench]) and c["flipped"] == len(changed)
        rows = _rows(dom)
        first = rows[:len(changed)]
        assert {sid for _, sid in first} == changed and all("flip" in cls for cls, _ in first), rows
        assert not any("flip" in cls for cls, _ in rows[len(changed):])
    # the two runs asked the same prompts: each is stored once in the page
    stored = []
    for data in re.findall(r'<script type="application/octet-stream" id="hvc-\d+">([^<]*)</script>',
                           page.read_text(encoding="utf-8")):
        stored += json.loads(gzip.decompress(base64.b64decode(data))).get("prompts", [])
    assert len(stored) == len({v["prompt_sha256"] for v in [*ia.values(), *ib.values()]}) == sum(map(len, ids.values()))
    dom = _browse(page, tmp_path, "b=mmlu_pro&flip=1")
    assert _count(dom)["shown"] == FLIP["mmlu_pro"]
    sid = sorted(flips["mmlu_pro"])[0]
    dom = _browse(page, tmp_path, f"b=mmlu_pro&s={sid}&r=0")
    detail = dom[dom.index('id="hv-detail"'):]
    assert detail.count('class="lbl"') == 2 and "correct (1)" in detail and "wrong (0)" in detail


def test_screenshot_shows_a_filled_table(smoke_runs, tmp_path):
    import numpy as np
    from PIL import Image

    a, _, _, _ = smoke_runs
    page = _view(str(a))

    def table_region(fragment: str) -> np.ndarray:
        shot = tmp_path / f"shot-{len(fragment)}.png"
        _browse(page, tmp_path, fragment, shot=shot)
        img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
        assert img.shape[:2] == (900, 1400)
        return img[245:470, 0:800].reshape(-1, 3)  # below the filters, left of the item pane: the table's 8 rows

    full = table_region("b=mmlu_pro")
    empty = table_region("b=mmlu_pro&q=no-such-item-anywhere")
    ink = lambda px: (px < 200).any(axis=1).mean()  # noqa: E731 - share of pixels darker than the background
    near = lambda px, rgb: (np.abs(px - np.array(rgb)).max(axis=1) <= 40).sum()  # noqa: E731
    green, red = near(full, [0x15, 0x80, 0x3D]), near(full, [0xB9, 0x1C, 0x1C])  # the ✓ and ✗ marks
    assert ink(full) > 0.02 and green > 15 and red > 5, (ink(full), green, red)
    assert ink(empty) < ink(full) / 5 and near(empty, [0x15, 0x80, 0x3D]) == 0, (ink(empty), ink(full))


def _ifbench_responses(path: Path, n: int) -> list[str]:
    text = importlib.resources.files("ifbench").joinpath("data/sample_output.jsonl").read_text(encoding="utf-8")
    by_prompt = {r["prompt"]: r["response"] for r in map(json.loads, text.splitlines())}
    rows = [json.loads(x) for x in (SHARED_DATA / "ifbench" / "test.jsonl").read_text().splitlines()][:n]
    path.write_text("".join(json.dumps({"benchmark": "ifbench", "sample_id": str(r["key"]),
                                        "response": by_prompt[r["prompt"]]}) + "\n" for r in rows))
    return [str(r["key"]) for r in rows]


def test_replayed_ifbench_run_shows_each_instruction(tmp_path):
    pytest.importorskip("ifbench")
    keys = _ifbench_responses(tmp_path / "responses.jsonl", 30)
    run = _run(tmp_path, "ifbench", tmp_path / "responses.jsonl", "--benchmarks", "ifbench", "--limit", "30")
    page = _view(str(run))
    items = run_items(run, load_records(run))
    failed = sum(v["score"] is not None and v["score"] < 1 for v in items.values())
    assert 0 < failed < 30
    assert _count(_browse(page, tmp_path, "b=ifbench")) == {"shown": 30, "total": 30}
    assert _count(_browse(page, tmp_path, "b=ifbench&f=wrong"))["shown"] == failed
    item = items[("ifbench", keys[0], 0)]
    dom = _browse(page, tmp_path, f"b=ifbench&s={keys[0]}&r=0")
    detail = dom[dom.index('id="hv-detail"'):]
    assert "<h3>Instructions</h3>" in detail
    for name in item["details"]["instructions"]:
        assert f"<td>{name}</td>" in detail


def _write_run(d: Path, bench: str, gens: list[Generation], scores: list[ScoreRecord]) -> None:
    d.mkdir(parents=True)
    (d / "generations.jsonl").write_text("".join(g.model_dump_json() + "\n" for g in gens))
    (d / "scores.jsonl").write_text("".join(s.model_dump_json() + "\n" for s in scores))
    (d / "manifest.json").write_text(json.dumps({
        "schema_version": "2.0", "run_id": d.name, "created": "2026-11-30T00:00:00+00:00",
        "model": {"model": "m"}, "engine": {"kind": "replay"},
        "benchmarks": {bench: {"version": "1", "task_sha256": None, "repeats": 1, "scorer": "fp",
                               "data": {"path": str(d / "gone.jsonl"), "sha256": "0" * 64}}}}))


def test_tau2_conversation_and_livecodebench_tests_in_the_shapes_their_scorers_write(tmp_path):
    # records as harness/benchmarks/tau2.py (`_response`, `breakdown`) and livecodebench.py (`verdict`) write them;
    # the data the run used is not here, so the page says that prompts cannot be shown
    messages = [
        {"role": "assistant", "content": "Hi! How can I help you today?", "turn_idx": 0},
        {"role": "user", "content": "My phone has no signal.", "turn_idx": 1},
        {"role": "assistant", "content": None, "turn_idx": 2, "tool_calls": [
            {"id": "c1", "name": "get_customer_by_phone", "arguments": {"phone_number": "555-0100"},
             "requestor": "assistant"}]},
        {"role": "tool", "id": "c1", "content": "{\"customer_id\": \"C1001\"}", "requestor": "assistant",
         "turn_idx": 3, "error": False},
        {"role": "user", "content": "Thanks, it works now. ###STOP###", "turn_idx": 4}]
    tau = Generation(benchmark="tau2_telecom", sample_id="[mobile_data_issue]x", repeat=0, response="{}",
                     engine_extra={"tau2": {"termination_reason": "user_stop", "steps": 5, "tool_errors": 0,
                                            "note": None, "tool_calls": [], "usage": {}, "messages": messages}})
    tau_score = ScoreRecord(benchmark="tau2_telecom", sample_id=tau.sample_id, repeat=0, scorer="fp",
                            target="assistant:get_customer_by_phone", extracted="user_stop", score=0.0,
                            generation_time=tau.time,
                            details={"reward": 0.0, "reward_basis": ["ENV_ASSERTION"],
                                     "reward_breakdown": {"ENV_ASSERTION": 0.0},
                                     "env_assertions": [{"func_name": "assert_mobile_data_status",
                                                         "arguments": {"expected_status": True}, "met": False}]})
    run = tmp_path / "tau"
    _write_run(run, "tau2_telecom", [tau], [tau_score])
    page = _view(str(run), "--out", str(tmp_path / "tau.html"))
    dom = _browse(page, tmp_path, f"b=tau2_telecom&s={tau.sample_id}&r=0")
    detail = dom[dom.index('id="hv-detail"'):]
    assert "Conversation (τ²)" in detail and detail.count('class="msg ') == len(messages)
    assert '→ get_customer_by_phone({"phone_number":"555-0100"})' in detail
    assert "assert_mobile_data_status" in detail and "ENV_ASSERTION 0" in detail
    assert "prompts not shown" in dom

    lcb = Generation(benchmark="livecodebench_v6", sample_id="abc123", repeat=0, response="```python\nprint(1)\n```")
    lcb_score = ScoreRecord(benchmark="livecodebench_v6", sample_id="abc123", repeat=0, scorer="fp", score=0.0,
                            extracted="print(1)", generation_time=lcb.time,
                            details={"passed": 3, "total": 6, "kind": "wrong_answer",
                                     "reason": "wrong answer on test 4", "test": 4})
    run = tmp_path / "lcb"
    _write_run(run, "livecodebench_v6", [lcb], [lcb_score])
    page = _view(str(run), "--out", str(tmp_path / "lcb.html"))
    dom = _browse(page, tmp_path, "b=livecodebench_v6&s=abc123&r=0")
    strip = re.search(r'<div class="tests">(.*?)</div>', dom).group(1)
    assert [c for c in re.findall(r'<span class="(\w)"', strip)] == ["p", "p", "p", "f", "n", "n"]
    assert "wrong answer on test 4" in dom


def test_bad_input_is_one_error_line(tmp_path):
    r = cli.invoke(app, ["view", str(tmp_path / "nope")])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "run directory" in r.output
    r = cli.invoke(app, ["view", str(tmp_path), str(tmp_path), str(tmp_path)])
    assert r.exit_code == 2 and "one run directory, or two" in r.output


def test_report_links_each_run_directorys_viewer(smoke_runs, tmp_path):
    a, b, ids, _ = smoke_runs
    out = tmp_path / "reports" / "r.html"
    r = cli.invoke(app, ["report", str(a), str(b), "--format", "html", "--scheme", "none", "--view", "--out", str(out)])
    assert r.exit_code == 0, r.output
    hrefs = re.findall(r'<a href="([^"]+)">', out.read_text(encoding="utf-8"))
    assert hrefs == ["../run-a/view.html", "../run-b/view.html"]
    page = (out.parent / hrefs[1]).resolve()
    assert page == b / "view.html"
    assert _count(_browse(page, tmp_path, "b=click"))["total"] == len(ids["click"])
    # Markdown, viewer not written: the link names the command that writes it
    (a / "view.html").unlink()
    md = tmp_path / "r.md"
    r = cli.invoke(app, ["report", str(a), "--format", "md", "--scheme", "none", "--out", str(md)])
    assert r.exit_code == 0, r.output
    assert f"- {a}: not written yet: `harness view {a}`" in md.read_text(encoding="utf-8")
