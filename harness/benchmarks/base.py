"""What a benchmark is: samples from upstream rows, a prompt per (sample, repeat), a scorer. No engine knowledge."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from harness.config import BenchmarkSpec
from harness.engine.base import Request, Response

Generate = Callable[[Request], Awaitable[Response]]


@dataclass
class Sample:
    id: str  # the upstream id as a string (the key used by score-responses)
    row: dict[str, Any]  # the upstream row, untouched
    category: str | None = None


@dataclass
class Prompt:
    messages: list[dict[str, Any]]
    target: str  # the correct answer for this (sample, repeat), e.g. the shuffled letter
    meta: dict[str, Any] = field(default_factory=dict)  # recorded with the sample (e.g. option order)


@dataclass
class Score:
    value: float | None  # 0..1; None only with `error`
    extracted: str | None  # None: no answer could be extracted (counted as unparsed, scored 0)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the scorer could not decide (judge failed, verdict unparseable): not scored, retried


@dataclass
class Roles:
    """How a benchmark reaches models, by role; each is just `await role(Request) -> Response`. Benchmarks never see
    engines: the model under test, and where a benchmark needs them, a judge and a user simulator."""

    model: Generate
    judge: Generate | None = None
    user_sim: Generate | None = None


class Benchmark:
    """Subclasses implement `samples`, `prompt` and `score`; the YAML spec carries version, prompt and settings.

    Benchmarks that need more than one completion per item (agents, user simulators) override `solve`; those
    whose scoring needs a model (LLM judges) or waits on other processes (code execution) override `ascore`.
    Scoring is a separate stage (harness.score): `score` runs in a worker process from the stored answer and the
    prompt rebuilt from (sample, repeat), so it may use only the spec, the sample and the prompt. `roles` lists the
    extra roles a benchmark needs (e.g. ("judge",)); the runner refuses to start without them. `optional_roles`:
    roles it uses when given (NIA's judged items); the runner starts a role engine only for benchmarks naming it.
    """

    roles: tuple[str, ...] = ()
    optional_roles: tuple[str, ...] = ()
    # distributions whose version decides verdicts beyond those the module imports (harness.score.fingerprint)
    scorer_packages: tuple[str, ...] = ()

    def __init__(self, spec: BenchmarkSpec):
        self.spec = spec
        self.data_source: dict[str, Any] = {}  # where the rows came from (set by the runner before `samples`)

    @property
    def name(self) -> str:
        return self.spec.name

    def samples(self, rows: list[dict[str, Any]]) -> list[Sample]:
        raise NotImplementedError

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        raise NotImplementedError

    def score(self, sample: Sample, prompt: Prompt, answer: str) -> Score:
        raise NotImplementedError

    async def solve(self, sample: Sample, prompt: Prompt, request: Request, roles: Roles) -> Response:
        return await roles.model(request)

    async def ascore(self, sample: Sample, prompt: Prompt, response: Response, roles: Roles) -> Score:
        return self.score(sample, prompt, response.text)

    def prefix_key(self, sample: Sample) -> str | None:
        """Samples with the same key share a long prompt prefix (e.g. the same documents): they are generated next
        to each other so that the server's prefix cache is reused. None: no sharing."""
        return None

    def metrics(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Benchmark-specific metrics beside the score (e.g. calibration error, pass^k), from the latest record per
        item; added to the summary entry as `metrics`."""
        return None

    def item_seed(self, sample_id: str, repeat: int) -> int:
        """Seed for (sample, repeat): stable across runs and machines, independent of scheduling order."""
        h = hashlib.sha256(f"{self.spec.seed}:{self.name}:{sample_id}:{repeat}".encode()).digest()
        return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
