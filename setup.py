"""Packaging metadata is in pyproject.toml. This file adds one build step: the wheel carries the repository's
`tasks/` (benchmark, suite, team, target, scheme and model YAML) as `harness/_tasks`, so that an installed harness
finds its task data (`harness.config.tasks_dir`). The source tree keeps `tasks/` at the top, where the docs point;
editable installs read it there and get no copy."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TASKS = Path(__file__).resolve().parent / "tasks"


def _task_files():
    return [p for p in sorted(TASKS.rglob("*"))
            if p.is_file() and p.suffix in (".yaml", ".yml", ".md") and "__pycache__" not in p.parts]


class BuildPyWithTasks(build_py):
    def _tasks_dest(self) -> Path:
        return Path(self.build_lib) / "harness" / "_tasks"

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for src in _task_files():
            target = self._tasks_dest() / src.relative_to(TASKS)
            self.mkpath(str(target.parent))
            self.copy_file(str(src), str(target))

    def get_outputs(self, include_bytecode=True):
        out = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return out
        return out + [str(self._tasks_dest() / p.relative_to(TASKS)) for p in _task_files()]


setup(cmdclass={"build_py": BuildPyWithTasks})
