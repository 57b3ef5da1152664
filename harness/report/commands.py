"""`harness report`: a Markdown or a self-contained HTML report of run directories."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from harness.errors import ConfigError, HarnessError

FORMATS = {"md": "report.md", "html": "report.html"}


def write_report(dirs: list[Path], fmt: str, out: Path | None = None, targets: list[str] = (),
                 scheme: str | None = "stage1", team: str | None = None, nia: list[Path] | None = None,
                 nia_score: float | None = None, view: bool = False, baseline: Path | None = None) -> Path:
    """Render the report of `dirs` as `fmt` (md | html) to `out` (default: <first dir>/report.<fmt>). It links to
    each run directory's item browser (`harness view`, <dir>/view.html), written first when `view`. `baseline`:
    another run, compared with this one item by item (as `harness compare BASELINE DIR`)."""
    from harness.report import html, markdown

    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}; use --format md or --format html")
    if not dirs:
        raise ConfigError("give at least one run directory: harness report DIR [DIR ...]")
    if scheme is not None and scheme.lower() == "none":
        scheme = None
    report = markdown.gather(dirs, targets, scheme, team, nia, nia_score, baseline)
    text = markdown.render(report) if fmt == "md" else html.render(report)
    path = out or Path(dirs[0]) / FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _link_views(text, fmt, dirs, path, view)
    path.write_text(text, encoding="utf-8")
    return path


def _link_views(text: str, fmt: str, dirs: list[Path], report: Path, write: bool) -> str:
    """The report with a section linking each run directory's item browser (relative to the report's folder)."""
    import os
    from html import escape
    from urllib.parse import quote

    from harness.report.view import write_view

    links = []
    for d in dict.fromkeys(Path(x) for x in dirs):
        page = d / "view.html"
        if write:
            write_view([d], page)
        rel = os.path.relpath(page.resolve(), report.parent.resolve()) if page.exists() else None
        links.append((d, rel))
    if fmt == "md":
        lines = ["", "## Items", "", "Every item's prompt, reasoning, answer and verdict (`harness view`):", ""]
        lines += [f"- [{d}]({quote(rel)})" if rel else f"- {d}: not written yet: `harness view {d}`"
                  for d, rel in links]
        return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    items = "".join(f'<li><a href="{escape(quote(rel))}">{escape(str(d))}</a></li>' if rel else
                    f"<li>{escape(str(d))}: not written yet: <code>harness view {escape(str(d))}</code></li>"
                    for d, rel in links)
    section = ("<h2>Items</h2>\n<p class=\"meta\">Every item's prompt, reasoning, answer and verdict, with filters "
               f"(<code>harness view</code>; offline):</p>\n<ul class=\"notes\">{items}</ul>\n")
    head, sep, tail = text.rpartition("</body>")
    return head + section + sep + tail if sep else text + section


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        dirs: List[Path] = typer.Argument(..., help="run directories (several: shards or machines, merged)"),
        format: str = typer.Option("md", "--format", help="md | html (one self-contained file with plots)"),
        target: List[str] = typer.Option([], "--target", help="target model (tasks/targets) or YAML file; "
                                         "repeatable (default: the team's target)"),
        scheme: str = typer.Option("stage1", help="points scheme (tasks/schemes) or YAML file; none: no points"),
        team: Optional[str] = typer.Option(None, help="team name (tasks/teams) or YAML file"),
        nia: List[Path] = typer.Option([], help="run directory with the `nia` benchmark"),
        nia_score: Optional[float] = typer.Option(None, help="NIA score 0-100, when computed elsewhere"),
        out: Optional[Path] = typer.Option(None, help="output file (default: <first run dir>/report.md|html)"),
        view: bool = typer.Option(False, "--view", help="also write each run directory's item browser "
                                  "(<dir>/view.html, as `harness view`); the report links to it either way"),
        baseline: Optional[Path] = typer.Option(None, help="an earlier run (another checkpoint) of the same data: "
                                                "adds the item-by-item comparison (harness compare BASELINE DIR)"),
    ):
        """Report of run directories: scores with their rates and validity, comparison with target models, points,
        provenance; as Markdown or as one offline HTML file with plots."""
        try:
            path = write_report(dirs, format, out, target, scheme, team, nia or None, nia_score, view, baseline)
        except HarnessError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)
        typer.echo(f"written: {path}")

    @app.command("view")
    def view(
        dirs: List[Path] = typer.Argument(..., help="a run directory, or two to compare (items joined by benchmark, "
                                          "sample id and repeat)"),
        out: Optional[Path] = typer.Option(None, help="output file (default: <first run dir>/view.html)"),
        data_dir: List[Path] = typer.Option([], help="local data root to rebuild prompts from (repeatable)"),
        prompts: bool = typer.Option(True, "--prompts/--no-prompts", help="rebuild each item's prompt from the "
                                     "run's data (only its sha256 is stored)"),
    ):
        """Item browser of a run (or two): one offline HTML file with every item's prompt, reasoning, answer,
        verdict and how it was decided, filters and search; with two runs the items whose verdict changed first."""
        from harness.report.view import write_view

        try:
            got = write_view(dirs, out, data_dir or None, prompts)
        except HarnessError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)
        typer.echo(f"written: {got['path']} ({got['items']} items, {got['bytes'] / 1e6:.1f} MB)")
