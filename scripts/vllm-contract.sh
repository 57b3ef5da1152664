#!/usr/bin/env bash
# The vLLM contract suite (tests/test_vllm_contract.py, docs/jobs.md "The vLLM contract"): builds a separate virtual
# environment with the vLLM wheel (no GPU dependencies, CPU torch 2.13.0) and the packages its argument parser and
# request models import, then runs the suite with the project's Python and HARNESS_VLLM_PYTHON pointing there.
#
#   scripts/vllm-contract.sh [pytest args]      VLLM_VERSION (default 0.33.0, the `vllm` extra's pin),
#                                               VLLM_VENV (default /tmp/vllm-contract-venv), PYTHON (default .venv)
#
# Not run by CI. Measured on this 2-core machine: building the environment and running the suite took 5 min 46 s
# (the suite itself 25 s alone, 96 s beside other tests; the vLLM wheel is 336 MB). CI's budget (90 min, ~25 used)
# could hold that, but CI runs the README's command verbatim and the install lists vLLM's parser imports by hand
# (below): a vLLM release that imports a new package breaks it, work for whoever bumps the pin, run by them.
set -euo pipefail
cd "$(dirname "$0")/.."
VLLM_VERSION="${VLLM_VERSION:-0.33.0}"
VLLM_VENV="${VLLM_VENV:-/tmp/vllm-contract-venv}"
PYTHON="${PYTHON:-.venv/bin/python}"

if ! "$VLLM_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('vllm') != '$VLLM_VERSION')" \
    2>/dev/null; then
  python3 -m venv "$VLLM_VENV"
  # what vllm.entrypoints.cli.serve and the chat-completion protocol import (vLLM 0.33.0's requirements, without
  # the CUDA kernels, Ray and the model loaders); torch 2.13.0 is the CPU build this machine's pip serves
  "$VLLM_VENV/bin/pip" install -q torch==2.13.0 'transformers>=5.16.1,<5.21' 'fastapi[standard]>=0.133,<0.137' \
    'openai>=2.25' 'pydantic>=2.12' pyyaml regex cachetools psutil sentencepiece numpy requests tqdm blake3 \
    py-cpuinfo tokenizers safetensors protobuf msgspec pyzmq cloudpickle partial-json-parser pybase64 cbor2 ijson \
    orjson prometheus_client prometheus-fastapi-instrumentator tiktoken 'mistral_common>=1.11.6' einops aiohttp \
    jsonschema setproctitle pillow watchfiles python-json-logger 'oss-harmony>=0.0.11' 'xgrammar==0.2.8' \
    'llguidance>=1.7,<1.8'
  "$VLLM_VENV/bin/pip" install -q --no-deps "vllm==$VLLM_VERSION"
fi
HARNESS_VLLM_PYTHON="$VLLM_VENV/bin/python" "$PYTHON" -m pytest -q tests/test_vllm_contract.py "$@"
