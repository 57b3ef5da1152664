"""Bridge to lmms-eval (EvolvingLMMs-Lab/lmms-eval): `--benchmarks lmms:<task>` runs an lmms-eval task or group,
images included, against the run's OpenAI-compatible server and stores it like a native benchmark
(harness/lmms/bridge.py; local data through harness/lmeval/data.py; the run entry in harness/lmms/run.py).
"""

from harness.lmms.bridge import LMMS_VERSION, PREFIX, LmmsPlan, LmmsResult, is_lmms, plan_lmms, run_lmms

__all__ = ["LMMS_VERSION", "PREFIX", "LmmsPlan", "LmmsResult", "is_lmms", "plan_lmms", "run_lmms"]
