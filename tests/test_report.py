"""`harness report`: Markdown and self-contained HTML reports of real run directories (built with
`harness score-responses` on real MMLU-Pro, CLIcK and AIME 2025 items and the KMMLU-Pro fixture), and the HTML
rendered by headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean, stdev

import pytest
import typer
from typer.testing import CliRunner

from conftest import FIXTURES, REPO, SHARED_DATA, mmlu_ids
from harness.cli import app as harness_app
from harness.report import plots
from harness.report.commands import register
from harness.report.markdown import Report
from harness.scoring.results import BenchmarkResult, Scorecard
from harness.scoring.stats import t975
from harness.scoring.targets import load_target

cli = CliRunner()
MODEL = "Our <script>alert('x')</script> & [Co](javascript:x)"
QWEN = "qwen3-235b-a22b-thinking-2507"
KEXAONE = "k-exaone-236b-a23b"
# per-sample number of correct repeats (of 5) for 15 MMLU-Pro items: business 0-4, law 5-9, psychology 10-14
MMLU_CORRECT = [i % 6 for i in range(15)]


def _report_app() -> typer.Typer:
    if any(c.name == "report" for c in harness_app.registered_commands):
        return harness_app
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so that `report` is a subcommand as in `harness report`
    register(app)
    return app


def _score(tmp: Path, name: str, benchmark: str, rows: list[dict], extra: list[str] = ()) -> Path:
    f = tmp / f"{name}.jsonl"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp / name
    r = cli.invoke(harness_app, ["score-responses", "--benchmark", benchmark, "--responses", str(f), "--out",
                                 str(out), "--name", MODEL, *extra])
    assert r.exit_code in (0, 3), r.output  # scored (3: complete but flagged invalid, as some fixtures are)
    return out


def _wrong(letter: str) -> str:
    return "A" if letter != "A" else "B"


@pytest.fixture
def runs(tmp_path) -> list[Path]:
    ids = mmlu_ids(1894)
    items = ids[0:5] + ids[789:794] + ids[1889:1894]  # business, law, psychology
    mmlu = [{"sample_id": sid, "repeat": rep,
             "response": f"the answer is ({a if rep < MMLU_CORRECT[i] else _wrong(a)})"}
            for rep in range(5) for i, (sid, a) in enumerate(items)]
    shard1 = _score(tmp_path, "mmlu-r0-2", "mmlu_pro", [r for r in mmlu if r["repeat"] < 3])
    shard2 = _score(tmp_path, "mmlu-r3-4", "mmlu_pro", [r for r in mmlu if r["repeat"] >= 3])

    rows = [json.loads(line) for line in (SHARED_DATA / "click" / "test.jsonl").read_text().splitlines()]
    culture = [r for r in rows if r["category"] == "Culture"][:6]
    language = [r for r in rows if r["category"] == "Language"][:4]
    click = []
    for rep in range(2):
        for i, r in enumerate(culture + language):
            letter = "ABCDE"[r["choices"].index(r["answer"])]
            right = i < 6 or i % 2 == 0  # all Culture right, half of Language
            answer = letter if right else _wrong(letter)
            click.append({"sample_id": r["id"], "repeat": rep, "response": f"정답: {answer}"})
    click_run = _score(tmp_path, "click", "click", click)

    aime = [json.loads(line) for line in (SHARED_DATA / "aime2025" / "test.jsonl").read_text().splitlines()][:6]
    aime_run = _score(tmp_path, "aime", "aime2025", [
        {"sample_id": str(i), "repeat": 0,
         "response": "I cannot solve this." if i < 2 else f"\\boxed{{{r['answer']}}}"} for i, r in enumerate(aime)])

    kmmlu = [{"sample_id": str(i), "response": "정답: A"} for i in range(6)]
    kmmlu_run = _score(tmp_path, "kmmlu", "kmmlu_pro", kmmlu, ["--data", str(FIXTURES / "kmmlu_pro")])
    return [shard1, shard2, click_run, aime_run, kmmlu_run]


def _report(runs: list[Path], fmt: str, out: Path, *extra: str) -> str:
    r = cli.invoke(_report_app(), ["report", *map(str, runs), "--format", fmt, "--target", QWEN,
                                   "--target", KEXAONE, "--nia-score", "50", "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    assert f"written: {out}" in r.output
    return out.read_text(encoding="utf-8")


def _mmlu_expected() -> tuple[float, list[float]]:
    per_sample = [100 * c / 5 for c in MMLU_CORRECT]
    score = mean(per_sample)
    h = t975(len(per_sample) - 1) * stdev(per_sample) / math.sqrt(len(per_sample))
    return score, [score - h, score + h]


def test_markdown_report_from_sharded_real_runs(runs, tmp_path):
    md = _report(runs, "md", tmp_path / "r.md")
    score, ci = _mmlu_expected()
    assert score == 44.0
    # MMLU-Pro merged from two shards by repeat: 15 samples, 5 repeats, 44.00 with the t-interval
    assert f"| mmlu_pro | 44.00 | {ci[0]:.1f}–{ci[1]:.1f} |" in md
    assert re.search(r"\| mmlu_pro \| 44\.00 \| [^|]+ \| [^|]+ \| 15 \| 5 \| 0\.0% \| 0\.0% \| 0\.0% \| valid \|", md)
    assert "| business | 40.00 | 5 |" in md and "| law | 44.00 | 5 |" in md and "| psychology | 48.00 | 5 |" in md
    # CLIcK: Culture 6/6, Language 2/4 → 80; categories reported
    assert "| click | 80.00 |" in md and "| Culture | 100.00 | 6 |" in md and "| Language | 50.00 | 4 |" in md
    # AIME: 2 of 6 unparsed → invalid, struck through, with its reason
    assert "| aime2025 | ~~66.67~~ |" in md
    assert "INVALID: unparsed\\_rate 33.3% &gt; 10.0%" not in md  # underscores are not escaped
    assert "INVALID: unparsed_rate 33.3% &gt; 10.0%" in md
    # comparisons with both targets: difference, ratio, and the overall figure over valid benchmarks only
    assert "vs Qwen3-235B-A22B-Thinking-2507" in md and "vs K-EXAONE-236B-A23B" in md
    assert "| mmlu_pro | 44.00 |" in md and "| 84.40 | -40.40 | 52.1% | yes |" in md
    assert "| aime2025 | ~~66.67~~ |" in md and "our score is invalid: not counted in the overall figure" in md
    qwen = load_target(QWEN)["scores"]
    t_mean = mean(qwen[b]["value"] for b in ("mmlu_pro", "click", "kmmlu_pro"))
    assert f"mean target {t_mean:.2f} over 3 benchmarks" in md
    assert "https://github.com/LG-AI-EXAONE/K-EXAONE" in md  # the target's source, as text
    # points: common over the 3 valid common benchmarks, AIME named as invalid, NIA given
    solutions = [json.loads(x)["solution"] for x in (FIXTURES / "kmmlu_pro" / "test.jsonl").read_text().splitlines()]
    kmmlu = 100 * solutions.count("1") / len(solutions)  # every response answers A
    assert 0 < kmmlu < 100
    common = mean([44.0, 80.0, kmmlu]) * 0.2
    assert f"| common | {common:.2f} | 20 |" in md
    assert "aime2025 (invalid: unparsed_rate 33.3% &gt; 10.0%)" in md
    assert f"- {100 * mean([44.0, 80.0, kmmlu]) / t_mean:.1f}% of Qwen3-235B-A22B-Thinking-2507 over 3 benchmarks" in md
    assert "- 3 of 4 benchmarks valid\n- INVALID: aime2025\n" in md
    assert "| nia | 5.00 | 10 | nia 50 × 0.1 = 5 |" in md
    assert f"| **total** | **{common + 5:.2f}** | 40 |" in md
    # provenance from the manifests
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    assert manifest["harness"]["git"]["commit"] and manifest["harness"]["git"]["commit"] in md
    assert manifest["created"] in md and "engine=replay" in md and f"| run directory | {runs[1]} |" in md
    assert "| mmlu_pro | mmlu-r3-4 | 1.0 |" in md
    # the model name is text, never markup
    assert "<script>" not in md and not re.search(r"(?<!\\)\]\(", md)  # no live link either
    assert "# Benchmark report: Our &lt;script&gt;alert('x')&lt;/script&gt; &amp; \\[Co\\](javascript:x)\n" in md


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def test_html_report_is_one_offline_file_with_plots(runs, tmp_path):
    from PIL import Image

    html = _report(runs, "html", tmp_path / "r.html")
    refs = _Refs()
    refs.feed(html)
    # nothing loaded from anywhere: no scripts, links, iframes; every src is an embedded PNG
    assert not {"script", "link", "iframe", "object", "embed"} & set(refs.tags)
    assert not [a for a in refs.attrs if re.search(r"https?://", a[2])]
    assert "url(" not in refs.style and "@import" not in refs.style
    srcs = [v for t, k, v in refs.attrs if k == "src"]
    assert len(srcs) >= 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    sizes = [Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).size for s in srcs]
    assert all(w > 300 and h > 200 for w, h in sizes)
    # URLs appear only as text (the targets' sources)
    assert "https://github.com/LG-AI-EXAONE/K-EXAONE" in html
    # escaped model name; invalid score struck on a marked row
    assert "<script>" not in html
    assert "<h1>Benchmark report: Our &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; [Co](javascript:x)</h1>" in html
    row = re.search(r'<tr class="invalid"><td>aime2025</td><td class="r"><s>66.67</s></td>', html)
    assert row, "the invalid AIME score must be struck through"
    assert "INVALID: unparsed_rate 33.3% &gt; 10.0%" in html
    # the plots: bars; a radar by benchmark (the valid scores cover fewer than 3 areas); categories; repeats
    titles = re.findall(r"<figure><h3>([^<]+)</h3>", html)
    assert titles == ["Scores against targets", "Ours against targets by benchmark", "Categories of mmlu_pro",
                      "Categories of kmmlu_pro", "Spread of repeats"]
    assert "Hollow hatched bars marked INVALID are not valid results: aime2025" in html
    assert "Left out: aime2025 (invalid)" in html
    assert "% of Qwen3-235B-A22B-Thinking-2507 over 3 benchmarks" in html


def test_radar_groups_the_common_benchmarks_into_areas():
    qwen = load_target(QWEN)
    ours = {b: v["value"] if isinstance(v, dict) else v[0]["value"] for b, v in load_target(KEXAONE)["scores"].items()}
    results = {b: BenchmarkResult(b, {"score": s, "valid": b != "hle", "invalid_reason": None if b != "hle" else "x"})
               for b, s in ours.items()}
    report = Report(Scorecard("m", results, []), {}, {})
    from harness.scoring.targets import compare

    report.comparisons = [compare({b: r.summary for b, r in results.items()}, qwen)]
    d = plots.radar_data(report)
    # areas from the task YAML (`area:`), in alphabetical order
    assert d.kind == "areas" and d.axes == ["agentic (1)", "code (1)", "instruction following (2)", "knowledge (5)",
                                            "long context (1)", "math (2)"]
    knowledge = ["mmlu_pro", "gpqa_diamond", "kmmlu_pro", "click", "kobalt"]  # hle is invalid: left out
    assert d.members["knowledge"] == knowledge and d.left_out == ["hle (invalid)"]
    assert d.members["math"] == ["aime2025", "hrm8k"] and d.members["instruction following"] == ["ifbench", "ifeval"]
    assert d.members["agentic"] == ["tau2_telecom"] and d.members["code"] == ["livecodebench_v6"]
    assert d.members["long context"] == ["aa_lcr"]
    assert d.ours[3] == pytest.approx(mean(ours[b] for b in knowledge))
    assert d.targets[0][1][3] == pytest.approx(mean(qwen["scores"][b]["value"] for b in knowledge))
    assert d.ours[5] == pytest.approx(mean([ours["aime2025"], ours["hrm8k"]]))

    few = Report(Scorecard("m", {b: results[b] for b in ("mmlu_pro", "click", "aime2025")}, []), {}, {})
    assert plots.radar_data(few).kind == "benchmarks"
    assert plots.radar_data(Report(Scorecard("m", {"click": results["click"]}, []), {}, {})) is None


def test_radar_areas_come_from_the_task_yaml(tmp_path, monkeypatch):
    """Change the `area:` of task YAML and the radar follows: a new area, a benchmark moved out of the radar, and a
    benchmark (a copy of a common one under another name) that no code names."""
    import yaml

    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    bdir = tasks / "benchmarks"

    def set_area(name: str, area: str | None, new_name: str | None = None):
        y = yaml.safe_load((bdir / f"{name}.yaml").read_text(encoding="utf-8"))
        y["area"] = area
        if new_name:
            y["name"] = new_name
        (bdir / f"{new_name or name}.yaml").write_text(yaml.safe_dump(y, allow_unicode=True), encoding="utf-8")

    for b in ("kmmlu_pro", "click", "kobalt"):
        set_area(b, "korean")
    set_area("aa_lcr", None)
    set_area("mmlu_pro", "reasoning", new_name="my_reasoning_set")
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tasks))
    names = ["mmlu_pro", "kmmlu_pro", "click", "kobalt", "aime2025", "aa_lcr", "my_reasoning_set", "lmeval:x"]
    results = {b: BenchmarkResult(b, {"score": 50.0 + i, "valid": True}) for i, b in enumerate(names)}
    d = plots.radar_data(Report(Scorecard("m", results, []), {}, {}))
    assert d.kind == "areas"
    assert d.members == {"knowledge": ["mmlu_pro"], "korean": ["kmmlu_pro", "click", "kobalt"], "math": ["aime2025"],
                         "reasoning": ["my_reasoning_set"]}
    assert d.left_out == ["aa_lcr (not in an area)", "lmeval:x (not in an area)"]
    assert d.ours[1] == pytest.approx(mean([51.0, 52.0, 53.0]))


def test_no_benchmark_names_in_plots_or_scorecard_code():
    """Areas and the NIA benchmark are task data: no benchmark's name is written into the plots or scorecard code."""
    # the one allowed literal: the name of the points-scheme input `--nia` supplies (tasks/schemes/*.yaml `input:`)
    sources = {p: re.sub(r'(?m)^NIA_INPUT = "nia"$', "", p.read_text(encoding="utf-8")) for p in
               (REPO / "harness" / "report" / "plots.py", REPO / "harness" / "scorecard.py",
                REPO / "harness" / "scoring" / "points.py")}
    for b in sorted(p.stem for p in (REPO / "tasks" / "benchmarks").glob("*.yaml")):
        for path, text in sources.items():
            assert not re.search(rf"[\"']{b}[\"']", text), f"{path.name} names the benchmark {b!r}"


def test_bad_report_options_are_named(runs, tmp_path):
    app = _report_app()
    r = cli.invoke(app, ["report", str(runs[0]), "--format", "pdf"])
    assert r.exit_code == 2 and "unknown report format 'pdf'; use --format md or --format html" in r.output
    r = cli.invoke(app, ["report", str(runs[0]), "--target", "no-such-model"])
    assert r.exit_code == 2 and "unknown target 'no-such-model'" in r.output
    r = cli.invoke(app, ["report", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "is this a run directory?" in r.output
    # default output: next to the first run; --scheme none leaves points out
    r = cli.invoke(app, ["report", str(runs[2]), "--scheme", "none"])
    assert r.exit_code == 0, r.output
    md = (runs[2] / "report.md").read_text()
    assert "| click | 80.00 |" in md and "## Points" not in md and "## Comparison" not in md


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_renders_in_headless_chromium(runs, tmp_path):
    import numpy as np
    from PIL import Image

    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI installs the Debian package `chromium`)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "r.html"
    _report(runs, "html", page)
    shot = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2400",
           page.as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0 and shot.exists(), p.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (2400, 1280)
    pixels = img.reshape(-1, 3)
    non_white = (pixels < 245).any(axis=1).mean()
    colours = len(np.unique(pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2]))
    assert non_white > 0.05 and colours > 500, (non_white, colours)
    # the embedded plots are drawn: our bar colour and the INVALID red are on the page
    ours = np.abs(pixels - np.array([0x25, 0x63, 0xEB])).max(axis=1) <= 12
    red = np.abs(pixels - np.array([0xDC, 0x26, 0x26])).max(axis=1) <= 20
    assert ours.sum() > 2000 and red.sum() > 100, (ours.sum(), red.sum())


def test_plot_labels_no_font_can_draw_are_numbered_and_named():
    labels, note = plots._labels(["law", "\U0010fffd"])  # a private-use character: no font has a glyph for it
    assert labels == ["law", "#2"] and note == " (no installed font can draw some labels: #2 = \U0010fffd)"
    assert plots.drawable("MMLU-Pro τ²")
