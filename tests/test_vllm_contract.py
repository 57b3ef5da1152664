"""The vLLM contract: every `vllm serve` command line the harness and its job generator produce, and every chat
request body of every benchmark and role, judged by vLLM's own code (its CLI parser and pre-start checks, its
ChatCompletionRequest model); completions built by vLLM's own response models read by the harness's client.

vLLM runs in a separate environment (its wheel without GPU dependencies, a CPU torch): scripts/vllm-contract.sh
builds it and runs this file with HARNESS_VLLM_PYTHON pointing at it. tests/vllm_contract/check.py is the part that
imports vLLM. Without vLLM the contract tests skip; the harness-side tests here (splitting, GPU plans, tools) run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness import config as cfg
from harness import launch
from harness.engine.vllm import serve_command
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CHECK = REPO / "tests" / "vllm_contract" / "check.py"
THINKING_OFF = "--default-chat-template-kwargs '{\"enable_thinking\": false}'"
QWEN = REPO / "tasks" / "models" / "qwen3-235b-a22b-thinking-2507.yaml"


def vllm_python() -> str | None:
    env = os.environ.get("HARNESS_VLLM_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("vllm") else None


needs_vllm = pytest.mark.skipif(vllm_python() is None, reason="vLLM is not importable (scripts/vllm-contract.sh "
                                "builds an environment with it and runs these tests)")


# ---- harness side: no vLLM needed ----

def test_vllm_arg_keeps_a_quoted_json_value_whole():
    args = launch.split_args([THINKING_OFF, "--max-num-seqs 64"])
    assert args == ["--default-chat-template-kwargs", '{"enable_thinking": false}', "--max-num-seqs", "64"]
    with pytest.raises(ConfigError, match="quote"):
        launch.split_args(["--x '{"])


def _vllm(model="m", **kw) -> cfg.ModelSpec:
    return cfg.ModelSpec(engine="vllm", model=model, **kw)


def test_roles_beside_the_model_get_their_own_gpus_or_are_refused_before_starting():
    model = _vllm(tensor_parallel_size=6)
    plan = launch.plan_gpus({"model": model, "judge": _vllm("j", tensor_parallel_size=2)}, available=8)
    assert plan["model"].gpus == [0, 1, 2, 3, 4, 5] and plan["judge"].gpus == [6, 7]
    # explicit GPUs are kept; the model takes the rest
    plan = launch.plan_gpus({"model": _vllm(tensor_parallel_size=2), "user_sim": _vllm("u", gpus=[0])}, 8)
    assert plan["model"].gpus == [1, 2] and plan["user_sim"].gpus == [0]
    # tp 8 on an 8-GPU node and a judge: no GPU left, default shares 0.92 + 0.92 do not fit
    with pytest.raises(ConfigError, match="GPUs up to index 8 but this node has 8"):
        launch.plan_gpus({"model": _vllm(tensor_parallel_size=8), "judge": _vllm("j")}, 8)
    # explicit shares that fit: both on the same GPUs; that do not: refused naming the shares
    ok = launch.plan_gpus({"model": _vllm(tensor_parallel_size=8, extra_args=["--gpu-memory-utilization", "0.7"]),
                           "user_sim": _vllm("u", gpu_memory_utilization=0.2)}, 8)
    assert ok["model"].gpus is None and ok["user_sim"].gpus is None
    with pytest.raises(ConfigError, match=r"add up\s+to 1.02 .*0.92.*0.1"):
        launch.plan_gpus({"model": _vllm(extra_args=["--gpu-memory-utilization", "0.92"]),
                          "user_sim": _vllm("u", gpu_memory_utilization=0.1)}, 8)
    with pytest.raises(ConfigError, match="needs 2 GPUs"):
        launch.plan_gpus({"model": _vllm(tensor_parallel_size=2, gpus=[0])}, 8)
    with pytest.raises(ConfigError, match="Ray cluster"):
        launch.plan_gpus({"model": _vllm(extra_args=["--distributed-executor-backend", "ray"]), "judge": _vllm("j")})
    # CUDA_VISIBLE_DEVICES: indices into what the harness sees (a scheduler's allocation)
    from harness.engine.vllm import cuda_visible_devices
    assert cuda_visible_devices([6, 7], "") == "6,7" and cuda_visible_devices([1], "3,5") == "5"


def test_tool_calling_roles_need_a_tool_call_parser_before_anything_starts():
    roles = [("tau2_telecom", ("model", "user_sim"))]
    with pytest.raises(ConfigError, match="tau2_telecom: the user_sim answers with OpenAI tool calls"):
        launch.check_tool_servers(roles, {"model": _vllm(tool_call_parser="hermes"), "user_sim": _vllm("u")})
    with pytest.raises(ConfigError, match="the model answers"):
        launch.check_tool_servers(roles, {"model": _vllm(), "user_sim": _vllm("u", tool_call_parser="hermes")})
    launch.check_tool_servers(roles, {"model": _vllm(extra_args=["--tool-call-parser", "hermes"]),
                                      "user_sim": cfg.ModelSpec(engine="openai", model="u", base_url="http://x/v1")})
    assert launch.benchmark_tool_roles(["tau2_telecom", "mmlu_pro"]) == [("tau2_telecom", ("model", "user_sim")),
                                                                         ("mmlu_pro", ())]


def test_a_party_without_tools_sends_no_tools():
    pytest.importorskip("tau2")
    from harness.benchmarks import tau2_sim
    from harness.engine.base import Response

    seen = []

    async def role(request):
        seen.append(request.params.extra)
        return Response(text="hi")

    party = tau2_sim.Party(role, "sys", [], cfg.GenerationParams(temperature=0.0), tau2_sim.Usage())
    asyncio.run(party.reply([], 1, 0))
    assert "tools" not in seen[0] and "tool_choice" not in seen[0]


def docs_job_spec():
    """docs/jobs.md's job spec as written, its paths mapped onto this checkout (/shared/harness -> the repo)."""
    import re

    import yaml

    from harness.jobs.spec import JobSpec

    text = (REPO / "docs" / "jobs.md").read_text(encoding="utf-8")
    block = re.search(r"## The job spec\s+```yaml\n(.*?)```", text, re.DOTALL).group(1)
    data = yaml.safe_load(block.replace("/shared/harness/", f"{REPO}/"))
    data["workdir"] = str(REPO)
    return JobSpec(**data)


def test_docs_job_spec_passes_the_harness_checks():
    from harness.jobs.spec import check

    check(docs_job_spec())


# ---- the cases vLLM judges ----

def commands() -> dict[str, list[str]]:
    """Every kind of `vllm serve` command line the harness writes, by a name that says where it comes from."""
    from harness.jobs.script import run_vllm_args
    from harness.jobs.spec import JobSpec, model_spec_of, role_specs_of

    out: dict[str, list[str]] = {}
    for path in sorted((REPO / "tasks" / "models").glob("*.yaml")):
        spec = cfg.load_model_spec(path)
        if spec.engine == "vllm":
            out[f"model spec {path.name}"] = serve_command(spec, 8000)
    cli = launch.model_spec(QWEN, {"tool_call_parser": "hermes", "pipeline_parallel_size": 2,
                                   "data_parallel_size": 2, "served_model_name": "qwen3",
                                   "extra_args": launch.split_args([THINKING_OFF, "--max-num-seqs 64"])})
    out["harness run --vllm-arg JSON --tool-call-parser --pp --dp"] = serve_command(cli, 8000)
    planned = launch.plan_servers(
        launch.model_spec(QWEN, {"tensor_parallel_size": 6, "tool_call_parser": "hermes"}),
        launch.role_specs("vllm:openai/gpt-oss-120b", None,
                          {"judge": [6, 7]}), available=8)
    out["harness run --judge vllm:M --judge-gpus 6,7 (model)"] = serve_command(planned["model"], 8000)
    out["harness run --judge vllm:M --judge-gpus 6,7 (judge)"] = serve_command(
        planned["judge"].model_copy(update={"tensor_parallel_size": 2}), 8001)
    user = _vllm("Qwen/Qwen3-32B", tool_call_parser="hermes", reasoning_parser="qwen3", gpu_memory_utilization=0.2)
    out["user simulator spec with a tool parser and a share"] = serve_command(user, 8002)
    spec = docs_job_spec()
    out["docs/jobs.md: the run's model"] = serve_command(model_spec_of(spec), 8000)
    for role, s in role_specs_of(spec).items():
        out[f"docs/jobs.md: colocated {role}"] = serve_command(s, 8001)
    for role, s in spec.servers().items():
        if s.mode == "separate":
            out[f"docs/jobs.md: separate {role} server job"] = s.serve_command()
    multi = JobSpec(name="multi", run={"model_config": str(QWEN), "engine": "vllm", "tp": 8, "pp": 4,
                                       "vllm_arg": [THINKING_OFF]}, resources={"nodes": 4, "gpus_per_node": 8})
    assert any("ray" in v for v in run_vllm_args(multi))
    out["multi-node job (Ray executor)"] = serve_command(model_spec_of(multi), 8000)
    return out


def request_bodies() -> dict[str, dict]:
    """A request body of every benchmark (its first sample, the settings `harness run` resolves for the Qwen3 spec)
    and of every role: the HLE / AA-LCR judges, τ²'s agent and user simulator with a tool history."""
    from harness import runner
    from harness.benchmarks.base import Roles
    from harness.engine.base import Request, Response
    from harness.engine.client import ChatClient

    client = ChatClient("http://127.0.0.1:1/v1", "qwen3")
    spec = launch.model_spec(QWEN, {"tool_call_parser": "hermes"})
    out: dict[str, dict] = {}
    for name in cfg.benchmark_names():
        plans, why = None, ""
        # the shared data, else the fixture in the upstream schema (data we cannot ship)
        for overrides in (None, {name: FIXTURES / name}):
            try:
                plans = runner.plan_benchmarks([cfg.SuiteEntry(name=name)], spec, limit=1, data_overrides=overrides,
                                               roles=("judge", "user_sim"))
                break
            except Exception as e:  # noqa: BLE001 - data not here (private sets) or an optional package missing
                why = f"{type(e).__name__}: {str(e)[:120]}"
        if plans is None:
            print(f"{name}: not planned here ({why})")
            continue
        for p in plans:
            sample = p.samples[0]
            prompt = p.benchmark.prompt(sample, 0)
            request = Request(prompt.messages, p.params, seed=p.benchmark.item_seed(sample.id, 0))
            if name == "tau2_telecom":
                out.update(tau2_bodies(p, sample, prompt, request, client))
                continue
            out[f"{name} (model)"] = client.body(request)
            if "judge" in p.benchmark.roles:
                seen = []

                async def judge(r, seen=seen):
                    seen.append(client.body(r))
                    return Response(text='{"extracted_final_answer": "A", "reasoning": "r", "correct": "yes", '
                                    '"confidence": 90}')

                async def model(r):
                    return Response(text="")

                asyncio.run(p.benchmark.ascore(sample, prompt, Response(text="The answer is A."),
                                               Roles(model=model, judge=judge)))
                for i, b in enumerate(seen):
                    out[f"{name} (judge{'' if i == 0 else i})"] = b
    return out


def tau2_bodies(plan, sample, prompt, request, client) -> dict[str, dict]:
    """The agent's and the user simulator's requests through a conversation with tool calls on both sides (the
    tool history: assistant tool calls with null content, tool results), as tau2_sim sends them."""
    from harness.engine.base import Response

    sim, bench = plan.benchmark.sim, plan.benchmark
    task = bench.tasks[sample.id]
    env = bench.domain.environment()
    seen: dict[str, list[dict]] = {"agent": [], "user_sim": []}
    script = {
        "agent": [Response(text="", extra={"tool_calls": [{"id": "call_a1", "type": "function", "function": {
            "name": "get_customer_by_phone", "arguments": json.dumps({"phone_number": "555-123-2002"})}}]}),
                  Response(text="Please check your phone's status bar.")],
        "user_sim": [Response(text="My phone has no service."),
                     Response(text="", extra={"tool_calls": [{"id": "call_u1", "type": "function", "function": {
                         "name": "check_status_bar", "arguments": "{}"}}]}),
                     Response(text="###STOP###")],
    }

    def role(side):
        async def call(r):
            seen[side].append(client.body(r))
            return script[side].pop(0) if script[side] else Response(text="###STOP###")
        return call

    agent = sim.Party(role("agent"), prompt.messages[0]["content"], [t.openai_schema for t in env.get_tools()],
                      request.params, sim.Usage())
    user = sim.Party(role("user_sim"), bench.user_system(task), [t.openai_schema for t in env.get_user_tools()],
                     bench.user_params, sim.Usage())
    result = asyncio.run(sim.simulate(task, env, agent, user, request.seed, bench.spec.options["first_agent_message"],
                                      sim.Limits(20, 10, 0)))
    assert result.error is None, result.error
    out = {f"tau2_telecom ({side} turn {i})": b for side, bodies in seen.items() for i, b in enumerate(bodies)}
    assert any(m.get("role") == "tool" for b in seen["agent"] for m in b["messages"]), "no tool history reached"
    return out


@pytest.fixture(scope="module")
def verdicts():
    py = vllm_python()
    cmds, bodies = commands(), request_bodies()
    p = subprocess.run([py, str(CHECK)], input=json.dumps({"commands": list(cmds.values()),
                                                           "requests": list(bodies.values())}),
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-4000:]
    out = json.loads(p.stdout)
    print(f"vLLM {out['vllm']}: {len(cmds)} command lines, {len(bodies)} request bodies")
    return out, cmds, bodies


@needs_vllm
def test_every_command_line_passes_vllms_own_parser_and_checks(verdicts):
    out, cmds, _ = verdicts
    refused = {name: (" ".join(shlex.quote(a) for a in argv), v["error"])
               for (name, argv), v in zip(cmds.items(), out["commands"]) if not v["ok"]}
    assert not refused, json.dumps(refused, indent=1)
    by_name = dict(zip(cmds, out["commands"]))
    json_case = by_name["harness run --vllm-arg JSON --tool-call-parser --pp --dp"]
    assert json_case["default_chat_template_kwargs"] == {"enable_thinking": False}
    assert json_case["enable_auto_tool_choice"] and json_case["tool_call_parser"] == "hermes"
    assert by_name["multi-node job (Ray executor)"]["distributed_executor_backend"] == "ray"
    # the default share the GPU planner assumes is vLLM's
    assert by_name["harness run --judge vllm:M --judge-gpus 6,7 (judge)"]["gpu_memory_utilization"] == \
        launch.VLLM_DEFAULT_MEMORY_SHARE
    assert by_name["docs/jobs.md: colocated user_sim"]["tool_call_parser"]


@needs_vllm
def test_every_request_body_passes_vllms_request_model(verdicts):
    out, _, bodies = verdicts
    refused = {name: v["error"] for name, v in zip(bodies, out["requests"]) if not v["ok"]}
    assert not refused, json.dumps(refused, indent=1)
    by_name = dict(zip(bodies, out["requests"]))
    assert by_name["hle (judge)"]["response_format"] == "json_schema"
    assert by_name["tau2_telecom (agent turn 0)"]["tools"] > 0
    assert any(k.startswith("tau2_telecom (user_sim") and v["tools"] > 0 for k, v in by_name.items())
    assert len(bodies) >= 10


@needs_vllm
def test_completions_as_vllm_builds_them_are_read(verdicts):
    from harness.engine.client import parse_completion

    out, _, _ = verdicts
    assert "responses" in out, out.get("responses_error")
    r = out["responses"]
    a = parse_completion(r["reasoning"], 0.1)
    assert a.text == "The answer is (B)." and a.reasoning == "Let me think." and a.prompt_tokens == 12 \
        and a.completion_tokens == 30
    t = parse_completion(r["tool_call_null_content"], 0.1)
    assert t.text == "" and t.extra["tool_calls"][0]["function"]["name"] == "get_customer_by_phone"
    cut = parse_completion(r["length_mid_reasoning"], 0.1)
    assert cut.truncated and cut.text == "" and cut.reasoning == "Step 1 ... step 9"


def test_the_stand_in_server_speaks_vllms_reasoning_field(scripted_server, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"match": "q", "reply": "A", "reasoning": "because"}]))
    import urllib.request

    with scripted_server("--reply-file", str(rules), "--reasoning-parser", "deepseek_r1") as srv:
        def post(body):
            req = urllib.request.Request(f"{srv.base_url}/chat/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        status, data = post({"model": srv.model, "messages": [{"role": "user", "content": "q"}]})
        msg = data["choices"][0]["message"]
        assert status == 200 and msg["reasoning"] == "because" and "reasoning_content" not in msg
        status, data = post({"model": srv.model, "messages": [{"role": "user", "content": "q"}], "tools": [],
                             "tool_choice": "auto"})
        assert status == 400 and "must not be an empty array" in data["error"]["message"]
