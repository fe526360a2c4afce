"""Run-time flow errors, located at the step that raised them."""

from __future__ import annotations

from .compiled import CompiledStep


class FlowError(Exception):
    """A run-time error in a flow, located at a step."""

    def __init__(self, message: str, step: CompiledStep | None = None):
        super().__init__(message)
        self.message = message
        self.step = step

    def describe(self) -> str:
        """The message with its `file:line:col` and step, as `TurnResult.error` shows it."""
        if self.step is None:
            return self.message
        s = self.step
        return f"{s.pos}: {self.message} (step '{s.id}' in flow '{s.flow}')"


def describe_exception(exc: BaseException) -> str:
    """An exception as a flow sees it (`sys.error`, traces): its message, with the type
    for bare lookups whose message is just the missing key."""
    message = str(exc)
    if isinstance(exc, KeyError | LookupError) and not message.startswith("unknown"):
        return f"{type(exc).__name__}: {message}"
    return message or type(exc).__name__
