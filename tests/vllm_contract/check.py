"""Judges the harness's `vllm serve` command lines and chat request bodies with vLLM's own code; run with the Python
of an environment where vLLM is installed (scripts/vllm-contract.sh builds one without GPU dependencies).

    python check.py < cases.json > verdicts.json

cases.json: {"commands": [[executable..., "serve", MODEL, ...], ...], "requests": [body, ...]}. For each command:
vLLM's CLI parser with the `serve` subcommand (`make_arg_parser`), its pre-start checks (`validate_parsed_serve_args`,
`validate_api_server_args`: known tool-call and reasoning parsers), and its engine arguments
(`AsyncEngineArgs.from_cli_args`). For each body: vLLM's `ChatCompletionRequest` model. Also returns responses built
with vLLM's own response models (what the harness must read) and vLLM's version and default memory share.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")


def cpu_platform() -> None:
    """vLLM builds its parser from config classes that ask the platform for defaults; with no GPU here it is told
    it runs on CPU, as vLLM's own `vllm bench` does on a machine without one (vllm/entrypoints/cli/main.py)."""
    from vllm import platforms
    from vllm.platforms.cpu import CpuPlatform

    platforms.current_platform = CpuPlatform()


def serve_parser():
    import vllm.entrypoints.cli.serve as serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(description="vLLM CLI")
    sub = parser.add_subparsers(required=False, dest="subparser")
    for cmd in serve.cmd_init():
        cmd.subparser_init(sub).set_defaults(dispatch_function=cmd.cmd)
    return parser


class Refused(Exception):
    pass


def check_command(parser, argv: list[str]) -> dict:
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.common.cli_args import validate_api_server_args, validate_parsed_serve_args

    i = argv.index("serve")  # what follows the executable (`vllm`, `python -m vllm.entrypoints.cli.main`, ...)
    try:
        # argparse exits on a bad argument: catch it and keep its message
        def error(message):
            raise Refused(message)

        parser.error = error
        for a in parser._actions:
            if getattr(a, "choices", None) and isinstance(a.choices, dict):
                for p in a.choices.values():
                    p.error = error
        args = parser.parse_args(argv[i:])
        validate_parsed_serve_args(args)
        if getattr(args, "model_tag", None):
            args.model = args.model_tag
        engine = AsyncEngineArgs.from_cli_args(args)
        args.structured_outputs_config = engine.create_structured_outputs_config()
        validate_api_server_args(args)
    except (Refused, Exception) as e:  # noqa: BLE001 - every refusal is reported with its message
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return {"ok": True, "gpu_memory_utilization": engine.gpu_memory_utilization,
            "tensor_parallel_size": engine.tensor_parallel_size,
            "pipeline_parallel_size": engine.pipeline_parallel_size,
            "tool_call_parser": args.tool_call_parser, "enable_auto_tool_choice": args.enable_auto_tool_choice,
            "default_chat_template_kwargs": args.default_chat_template_kwargs,
            "distributed_executor_backend": engine.distributed_executor_backend}


def check_request(body: dict) -> dict:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    try:
        r = ChatCompletionRequest.model_validate(body)
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return {"ok": True, "response_format": r.response_format.type if r.response_format else None,
            "tools": len(r.tools or []), "tool_choice": r.tool_choice if isinstance(r.tool_choice, str) else None,
            "seed": r.seed}


def responses() -> dict:
    """Completions as vLLM's serving code builds them (its pydantic response models), JSON as it sends them."""
    from vllm.entrypoints.openai.chat_completion.protocol import (ChatCompletionResponse,
                                                                   ChatCompletionResponseChoice, ChatMessage)
    from vllm.entrypoints.generate.base.protocol import FunctionCall, ToolCall
    from vllm.entrypoints.serve.engine.protocol import UsageInfo

    def resp(message, finish, usage):
        return json.loads(ChatCompletionResponse(
            model="m", choices=[ChatCompletionResponseChoice(index=0, message=message, finish_reason=finish)],
            usage=usage).model_dump_json())

    u = UsageInfo(prompt_tokens=12, completion_tokens=30, total_tokens=42)
    return {
        "reasoning": resp(ChatMessage(role="assistant", reasoning="Let me think.", content="The answer is (B)."),
                          "stop", u),
        "tool_call_null_content": resp(ChatMessage(role="assistant", content=None, tool_calls=[ToolCall(
            id="call_1", function=FunctionCall(name="get_customer_by_phone",
                                               arguments='{"phone_number": "555-123-2002"}'))]), "tool_calls", u),
        "length_mid_reasoning": resp(ChatMessage(role="assistant", reasoning="Step 1 ... step 9", content=None),
                                     "length", u),
    }


def main() -> None:
    import importlib.metadata

    cases = json.load(sys.stdin)
    cpu_platform()
    parser = serve_parser()
    out = {"vllm": importlib.metadata.version("vllm"),
           "commands": [check_command(parser, c) for c in cases.get("commands", [])],
           "requests": [check_request(b) for b in cases.get("requests", [])]}
    try:
        out["responses"] = responses()
    except Exception:  # noqa: BLE001
        out["responses_error"] = traceback.format_exc()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
