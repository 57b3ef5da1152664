"""Errors a user can act on. Each message names the problem and the fix."""


class HarnessError(Exception):
    """Base: printed without a traceback by the CLI."""


class ConfigError(HarnessError):
    """A wrong spec, option or task file."""


class DataError(HarnessError):
    """A missing or corrupt data file."""


class EngineError(HarnessError):
    """The engine cannot serve requests (server never healthy, died, unreachable)."""


class ContextOverflow(HarnessError):
    """A prompt cannot fit the engine's maximum context."""


class Interrupted(HarnessError):
    """The run was stopped by SIGINT (Ctrl-C) or SIGTERM; the message says what is saved and how to resume."""

    def __init__(self, message: str, signal_name: str = "SIGINT", code: int = 130):
        super().__init__(message)
        self.signal_name, self.code = signal_name, code


# ---- secrets: API key values read at run time, never written anywhere ----

_SECRETS: set[str] = set()
REDACTED = "[REDACTED]"


def register_secret(value: str | None) -> None:
    """Remember a credential's value so that `redact` removes it from every error, record and log line (a server
    whose 401 body echoes the key must not get it stored). Values under 8 characters are not registered: redacting
    them would mangle ordinary text, and no real key is that short."""
    if value and len(value) >= 8:
        import json

        _SECRETS.add(value)
        _SECRETS.add(json.dumps(value)[1:-1])  # its JSON-escaped spelling, as it appears inside a stored line


def redact(text: str) -> str:
    """`text` with every registered credential value replaced by [REDACTED]."""
    if not _SECRETS or not isinstance(text, str):
        return text
    for s in sorted(_SECRETS, key=len, reverse=True):
        if s in text:
            text = text.replace(s, REDACTED)
    return text
