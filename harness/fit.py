"""Output-token budgets from their sources, and which items cannot fit the engine's context.

Budgets. The output-token budget of a benchmark comes from two sources (issue 12, item 5):
  - the model card of the model under test (`tasks/models/cards/*.yaml`): e.g. Qwen3-235B-A22B-Thinking-2507's card
    asks for 81,920 output tokens on reasoning and coding tasks and 32,768 on the others;
  - the benchmark's reference, as a cap (`options.max_tokens_cap` in the task YAML): e.g. AA-LCR 16,384, per
    Artificial Analysis.
`budgeted` combines them: max_tokens = min(card budget, benchmark cap); a max_tokens given on the command line wins
over both. Without a card the merged settings' max_tokens is kept (still capped).

Fit. `unfit_items` counts, per benchmark, the items whose prompt tokens + max_tokens exceed the engine's maximum
context, so that `harness run` can say so once per benchmark before it starts. Such an item's max_tokens is cut to
the context left after its prompt and its generation record says so (harness.generate.fit_to_context), except in
benchmarks that set `options.check_context` (AA-LCR), which refuse it as a context error (context_overflow).

Estimate. `work_estimate` says, before a run whose answers could take long on this machine (the hf engine on CPU),
how many tokens it may generate and how long that takes at the measured decode rate (issue 16).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from harness import images
from harness.config import GenerationParams, _read_yaml, tasks_dir
from harness.engine.base import messages_sha256
from harness.errors import ConfigError

# -------------------------------------------------------------------------------------------------- budgets


def cards_dir() -> Path:
    return tasks_dir() / "models" / "cards"


def load_card(path: Path) -> dict[str, Any]:
    card, _ = _read_yaml(path)
    for k in ("models", "url", "budgets"):
        if k not in card:
            raise ConfigError(f"{path}: missing {k!r}")
    if "default" not in card["budgets"]:
        raise ConfigError(f"{path}: budgets needs a `default` (the card's output length for other tasks)")
    for cls, members in (card.get("classes") or {}).items():
        if cls not in card["budgets"]:
            raise ConfigError(f"{path}: class {cls!r} has no budget")
        if not isinstance(members, list):
            raise ConfigError(f"{path}: classes.{cls} must be a list of benchmark names")
    card["_path"] = str(path)
    return card


def _idents(model: Any) -> set[str]:
    names = {getattr(model, k, None) for k in ("model", "name", "served_model_name")}
    names |= {Path(n).name for n in names if n}
    return {n.lower() for n in names if n}


def card_for(model: Any) -> dict[str, Any] | None:
    """The card whose `models` names this model spec's model id, display name, served name or path's last part."""
    ids = _idents(model)
    if not ids or not cards_dir().is_dir():
        return None
    for path in sorted(cards_dir().glob("*.yaml")):
        card = load_card(path)
        if ids & {m.lower() for m in card["models"]}:
            return card
    return None


def card_budget(card: dict[str, Any] | None, benchmark: str) -> tuple[int | None, str | None]:
    """(max_tokens the card asks for on this benchmark, the card's class it falls in)."""
    if not card:
        return None, None
    for cls, members in (card.get("classes") or {}).items():
        if benchmark in members:
            return int(card["budgets"][cls]), cls
    return int(card["budgets"]["default"]), "default"


def reference_cap(options: dict[str, Any]) -> int | None:
    cap = (options or {}).get("max_tokens_cap")
    return int(cap) if cap is not None else None


def budgeted(benchmark: str, options: dict[str, Any], params: GenerationParams, card: dict[str, Any] | None = None,
             explicit: GenerationParams | None = None) -> tuple[GenerationParams, dict[str, Any]]:
    """The settings with max_tokens from the card and the benchmark's cap, and where max_tokens came from (for the
    manifest). `params`: the merged settings (benchmark < suite < model spec < command line); `explicit`: the
    command line's own settings, whose max_tokens wins over card and cap."""
    if explicit is not None and explicit.max_tokens is not None:
        return params, {"max_tokens": params.max_tokens, "from": "command line"}
    value, why = params.max_tokens, "task/suite/model settings"
    budget, cls = card_budget(card, benchmark)
    if budget is not None:
        value, why = budget, f"model card {card['url']} ({cls})"
    cap = reference_cap(options)
    info: dict[str, Any] = {}
    if cap is not None and (value is None or value > cap):
        info["capped_from"] = value
        value, why = cap, f"benchmark reference cap (options.max_tokens_cap; was {why})"
    info = {"max_tokens": value, "from": why, **info}
    if value == params.max_tokens:
        return params, info
    return params.merged({"max_tokens": value}), info


# -------------------------------------------------------------------------------------------------- context fit

TEMPLATE_MARGIN = 4096  # tokens a chat template may add around the messages (upper bound used before counting)


def _messages_bytes(messages: list[dict]) -> int:
    """UTF-8 bytes of everything the chat template can render: an upper bound on the prompt's tokens (byte-level
    BPE and byte-fallback tokenizers never spend more than one token per byte), before the template's own tokens.
    Images have no such bound (their tokens follow from the pixels and the model's processor, not from the bytes):
    a prompt with an image gets a size no context passes, so it is always counted."""
    if images.count(messages):
        return sys.maxsize
    return len(json.dumps(messages, ensure_ascii=False).encode())


async def unfit_items(plans: list, engine: Any, keys: set | None = None, concurrency: int = 32,
                      template_margin: int = TEMPLATE_MARGIN, examples: int = 5) -> dict[str, dict[str, Any]] | None:
    """Per benchmark: how many work items cannot fit the engine's context (prompt tokens + max_tokens > maximum
    context, the rule of harness.generate.context_overflow). None when the engine cannot tell (no `max_context` or
    no `count_tokens`, e.g. before it is started). Items whose prompt is so short that even one token per byte
    (plus `template_margin` for the chat template) fits are not sent to the tokenizer; each distinct prompt is
    counted once (repeats usually share theirs). Multi-turn benchmarks (τ²) are counted on their first prompt; their
    conversations grow beyond it. Plans that are not native benchmarks (lm-eval) are skipped. `keys`: count only
    these (benchmark, sample_id, repeat) items (e.g. those still to generate on a resumed run)."""
    limit = getattr(engine, "max_context", None)
    count = getattr(engine, "count_tokens", None)
    if not limit or count is None:
        return None
    sem = asyncio.Semaphore(concurrency)
    cache: dict[str, asyncio.Task] = {}

    async def tokens(messages: list[dict]) -> int | None:
        async with sem:
            return await count(messages)

    out: dict[str, dict[str, Any]] = {}
    for plan in plans:
        bench = getattr(plan, "benchmark", None)
        if bench is None or not hasattr(plan, "items"):
            continue
        max_tokens = plan.params.max_tokens or 0
        pending: list[tuple[str, int, asyncio.Task | None, int]] = []
        for sample, repeat in plan.items():
            if keys is not None and (plan.name, sample.id, repeat) not in keys:
                continue
            messages = bench.prompt(sample, repeat).messages
            size = _messages_bytes(messages)
            if size + template_margin + max_tokens <= limit:
                pending.append((sample.id, repeat, None, size))
                continue
            key = messages_sha256(messages)
            if key not in cache:
                cache[key] = asyncio.ensure_future(tokens(messages))
            pending.append((sample.id, repeat, cache[key], size))
        unfit, unknown, biggest, least_room, overflow = [], 0, 0, None, 0
        for sid, rep, task, _ in pending:
            if task is None:
                continue
            n = await task
            if n is None:
                unknown += 1
                continue
            biggest = max(biggest, n)
            if n + max_tokens > limit:
                unfit.append((sid, rep, n))
                if n >= limit:
                    overflow += 1
                else:
                    least_room = limit - n if least_room is None else min(least_room, limit - n)
        out[plan.name] = {
            "items": len(pending), "unfit": len(unfit), "uncounted": unknown, "max_tokens": max_tokens,
            "max_context": limit, "largest_counted_prompt": biggest or None,
            "clamps": not bench.spec.options.get("check_context"), "least_room": least_room,
            "prompt_over_context": overflow,
            "examples": [{"sample_id": s, "repeat": r, "prompt_tokens": n} for s, r, n in unfit[:examples]],
        }
    return out


def unfit_lines(report: dict[str, dict[str, Any]] | None) -> list[str]:
    """Lines for the terminal, one per benchmark with items that cannot fit (nothing when all fit)."""
    if report is None:
        return ["note: the engine cannot count prompt tokens; items that do not fit its context are only found "
                "when sent"]
    lines = []
    for name, r in report.items():
        if r["unfit"] and r.get("clamps"):
            cut = r["unfit"] - r["prompt_over_context"]
            if cut:
                lines.append(
                    f"note: {name}: {cut} of {r['items']} items leave less than max_tokens {r['max_tokens']:,} "
                    f"after the prompt in the engine's context of {r['max_context']:,} tokens: their max_tokens is "
                    f"cut to what is left (as little as {r['least_room']:,}); each such generation record says so "
                    "(max_tokens_clamped_from)")
            if r["prompt_over_context"]:
                lines.append(
                    f"warning: {name}: {r['prompt_over_context']} of {r['items']} items have prompts longer than "
                    f"the context of {r['max_context']:,} tokens; they will be recorded as errors. Raise "
                    "--max-model-len or use a model with a longer context")
        elif r["unfit"]:
            ex = ", ".join(f"{e['sample_id']} ({e['prompt_tokens']} tokens)" for e in r["examples"])
            lines.append(
                f"warning: {name}: {r['unfit']} of {r['items']} items cannot fit the context: prompt + max_tokens "
                f"{r['max_tokens']} > {r['max_context']} (e.g. {ex}); they will be recorded as errors (a "
                "context overflow, or the server's refusal). Raise --max-model-len or lower --max-tokens")
        if r["uncounted"]:
            lines.append(f"note: {name}: {r['uncounted']} long prompts could not be counted")
    return lines


# -------------------------------------------------------------------------------------------------- estimate

LONG_RUN_S = 600.0  # a run that may take longer than this is announced with its estimate


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{max(1, round(seconds / 60))} min"


def work_estimate(items: dict[str, tuple[int, int | None]], rate: float | None, max_context: int | None = None,
                  long_s: float = LONG_RUN_S) -> str | None:
    """A line for the terminal when the answers still to generate could take longer than `long_s` at `rate`
    tokens/s: `items` is benchmark -> (items to generate, max_tokens). Each answer is counted at its full budget
    (capped by the context), so this is an upper bound; None when it is short or cannot be told."""
    if not rate:
        return None
    parts, total, n_items = [], 0, 0
    for name, (n, max_tokens) in items.items():
        if not n or not max_tokens:
            continue
        budget = min(max_tokens, max_context) if max_context else max_tokens
        parts.append(f"{name} {n} × up to {budget:,}")
        total += n * budget
        n_items += n
    seconds = total / rate
    if not parts or seconds <= long_s:
        return None
    budgets = {min(m, max_context) if max_context else m for n, m in items.values() if n and m}
    what = (f"{n_items} items × up to {budgets.pop():,} tokens" if len(budgets) == 1
            else f"{n_items} items, up to {total:,} tokens")
    return (f"note: {what} ({'; '.join(parts)}) at ~{rate:.0f} tokens/s measured on this machine: up to "
            f"{_duration(seconds)}. Pass --max-tokens N (or --limit N) for a shorter run")


async def estimate_line(engine: Any, todo: list) -> str | None:
    """`work_estimate` for `todo` ((plan, sample, repeat) still to generate) when the engine can measure its decode
    rate (the hf engine); measured only when the budgets could add up to a long run even at 10 tokens/s."""
    rate_of = getattr(engine, "decode_rate", None)
    items: dict[str, list] = {}
    for plan, _, _ in todo:
        items.setdefault(plan.name, [0, plan.params.max_tokens])[0] += 1
    limit = getattr(engine, "max_context", None)
    budget = sum(n * min(m, limit or m) for n, m in items.values() if m)
    if rate_of is None or budget <= LONG_RUN_S * 10:
        return None
    return work_estimate({k: (n, m) for k, (n, m) in items.items()}, await rate_of(), limit)
