"""Credentials (issue 13 item 6): each server gets the key its own variable names (`--judge-api-key-env`,
`--user-sim-api-key-env`, `api_key_env` in a role YAML), a server that echoes the key in an error body does not get it
stored or printed, and Kubernetes jobs read keys from Secrets. Real CLI, real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app

cli = CliRunner()

MODEL_KEY = "sk-model-0123456789abcdef"
JUDGE_KEY = "sk-judge-fedcba9876543210"
OPENAI_KEY = "sk-openai-default-should-not-go-to-the-judge"


class EchoServer:
    """An OpenAI-compatible endpoint that answers every chat request 401 with the bearer token it got quoted back
    (as some gateways do), and records every Authorization header."""

    def __init__(self):
        seen = self.seen = []

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"data": [{"id": "m"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization")
                seen.append(auth)
                self._send(401, {"error": {"message": f"invalid api key: {auth}"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()


def _no_key_in(out: Path, *keys: str) -> None:
    for f in out.rglob("*"):
        if f.is_file():
            text = f.read_text(errors="replace")
            for k in keys:
                assert k not in text, f"API key leaked into {f}"


def _lcr_responses(tmp_path: Path) -> Path:
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps({"sample_id": str(i), "response": "an answer"}) + "\n" for i in range(2)))
    return f


def test_judge_gets_its_own_key_and_a_401_echo_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("JUDGE_KEY", JUDGE_KEY)
    out = tmp_path / "run"
    with EchoServer() as judge:
        r = cli.invoke(app, ["run", "--benchmarks", "aa_lcr", "--engine", "replay", "--responses",
                             str(_lcr_responses(tmp_path)), "--limit", "2", "--no-progress", "--out", str(out),
                             "--judge", f"openai:m@{judge.url}", "--judge-api-key-env", "JUDGE_KEY"])
    assert judge.seen and set(judge.seen) == {f"Bearer {JUDGE_KEY}"}  # never $OPENAI_API_KEY
    assert r.exit_code == 3, r.output  # every verdict a judge error: complete, invalid
    _no_key_in(out, JUDGE_KEY, OPENAI_KEY)
    assert JUDGE_KEY not in r.output
    stored = (out / "scores.jsonl").read_text()
    assert "HTTP 401" in stored and "[REDACTED]" in stored  # the error is kept, the key is not


def test_without_the_option_the_judge_gets_openai_api_key(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    out = tmp_path / "run"
    with EchoServer() as judge:
        cli.invoke(app, ["run", "--benchmarks", "aa_lcr", "--engine", "replay", "--responses",
                         str(_lcr_responses(tmp_path)), "--limit", "1", "--no-progress", "--out", str(out),
                         "--judge", f"openai:m@{judge.url}"])
    assert set(judge.seen) == {f"Bearer {OPENAI_KEY}"}
    _no_key_in(out, OPENAI_KEY)


def test_judge_yaml_api_key_env_and_the_option_overrides_it(tmp_path, monkeypatch):
    monkeypatch.setenv("YAML_KEY", "sk-yaml-key-000000000")
    monkeypatch.setenv("JUDGE_KEY", JUDGE_KEY)
    with EchoServer() as judge:
        spec = tmp_path / "judge.yaml"
        spec.write_text(yaml.safe_dump({"engine": "openai", "model": "m", "base_url": judge.url,
                                        "api_key_env": "YAML_KEY"}))
        for extra, want in (([], "sk-yaml-key-000000000"), (["--judge-api-key-env", "JUDGE_KEY"], JUDGE_KEY)):
            judge.seen.clear()
            out = tmp_path / f"run{len(extra)}"
            cli.invoke(app, ["score-responses", "--benchmark", "aa_lcr", "--responses", str(_lcr_responses(tmp_path)),
                             "--out", str(out), "--judge", str(spec), *extra])
            assert judge.seen and set(judge.seen) == {f"Bearer {want}"}
            _no_key_in(out, want)


def test_model_401_echo_is_redacted_in_generations(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_KEY", MODEL_KEY)
    out = tmp_path / "run"
    with EchoServer() as srv:
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--engine", "openai", "--model", "m", "--base-url",
                             srv.url, "--api-key-env", "MODEL_KEY", "--limit", "2", "--no-progress", "--out",
                             str(out)])
    assert set(srv.seen) == {f"Bearer {MODEL_KEY}"}
    assert r.exit_code != 0 and MODEL_KEY not in r.output
    _no_key_in(out, MODEL_KEY)
    assert "[REDACTED]" in (out / "generations.jsonl").read_text()


def test_api_key_env_options_are_checked(tmp_path):
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", "1", "--judge-api-key-env", "X"])
    assert r.exit_code == 2 and "error: --judge-api-key-env goes with --judge" in r.output
    r = cli.invoke(app, ["run", "--benchmarks", "aa_lcr", "--limit", "1", "--judge", "openai:m@http://127.0.0.1:9/v1",
                         "--judge-api-key-env", "sk-this-is-a-key-not-a-name"])
    assert r.exit_code == 2 and "give the NAME of an environment variable" in r.output
    r = cli.invoke(app, ["run", "--benchmarks", "tau2_airline", "--limit", "1", "--user-sim-api-key-env", "K"])
    assert r.exit_code == 2 and "error:" in r.output


def test_redact_helper():
    from harness.errors import redact, register_secret

    register_secret("short")  # too short to be a key: not registered, ordinary text untouched
    register_secret('sk-quote"back\\slash-123')
    assert redact("a short text") == "a short text"
    assert redact(json.dumps({"e": 'sk-quote"back\\slash-123'})) == '{"e": "[REDACTED]"}'


def _k8s_spec(tmp_path: Path, **extra) -> Path:
    spec = {"name": "judged", "run": {"benchmarks": "aa_lcr", "engine": "openai", "model": "m",
                                      "base_url": "http://model:8000/v1"},
            "judge": {"mode": "external", "model": "gpt-oss-120b", "url": "https://judge.example/v1",
                      "api_key_env": "JUDGE_API_KEY"},
            "results": "/results",
            "k8s": {"image": "harness:latest",
                    "secret_env": {"JUDGE_API_KEY": {"secret": "judge-key", "key": "token"},
                                   "OPENAI_API_KEY": {"secret": "model-key", "key": "token"}}}}
    spec.update(extra)
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def test_k8s_job_reads_keys_from_secrets_never_plaintext(tmp_path):
    out = tmp_path / "job.k8s.yaml"
    r = cli.invoke(app, ["jobs", "k8s", str(_k8s_spec(tmp_path)), "--out", str(out)])
    assert r.exit_code == 0, r.output
    docs = list(yaml.safe_load_all(out.read_text()))
    job = next(d for d in docs if d["kind"] == "Job")
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JUDGE_API_KEY"] == {"name": "JUDGE_API_KEY",
                                    "valueFrom": {"secretKeyRef": {"name": "judge-key", "key": "token"}}}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "model-key"
    run_sh = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["run.sh"]
    assert "--judge-api-key-env JUDGE_API_KEY" in run_sh


def test_k8s_secret_and_plaintext_env_of_one_name_is_refused(tmp_path):
    r = cli.invoke(app, ["jobs", "k8s", str(_k8s_spec(tmp_path, env={"JUDGE_API_KEY": "sk-plain"})), "--out",
                         str(tmp_path / "x.yaml")])
    assert r.exit_code == 2 and "JUDGE_API_KEY is in both `env` and `k8s.secret_env`" in r.output
