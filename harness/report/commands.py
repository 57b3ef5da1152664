"""`harness report`: a Markdown or a self-contained HTML report of run directories."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from harness.errors import ConfigError, HarnessError

FORMATS = {"md": "report.md", "html": "report.html"}


def write_report(dirs: list[Path], fmt: str, out: Path | None = None, targets: list[str] = (),
                 scheme: str | None = "stage1", team: str | None = None, nia: list[Path] | None = None,
                 nia_score: float | None = None) -> Path:
    """Render the report of `dirs` as `fmt` (md | html) to `out` (default: <first dir>/report.<fmt>)."""
    from harness.report import html, markdown

    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}; use --format md or --format html")
    if not dirs:
        raise ConfigError("give at least one run directory: harness report DIR [DIR ...]")
    if scheme is not None and scheme.lower() == "none":
        scheme = None
    report = markdown.gather(dirs, targets, scheme, team, nia, nia_score)
    text = markdown.render(report) if fmt == "md" else html.render(report)
    path = out or Path(dirs[0]) / FORMATS[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


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
    ):
        """Report of run directories: scores with their rates and validity, comparison with target models, points,
        provenance; as Markdown or as one offline HTML file with plots."""
        try:
            path = write_report(dirs, format, out, target, scheme, team, nia or None, nia_score)
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
