"""The YAML flow engine: load bot files into immutable versions and run conversation turns.

Pure: no storage, network or clock of its own (all injected through `TurnInput`, `HttpPort`,
`ActionRegistry` and `env`), so flows run the same in tests, `orchestrator test` and production.
"""

from .actions import ActionContext, ActionRegistry, action
from .compiled import BotVersion, CompiledFlow, CompiledStep, HandlerRef, SourcePos
from .diagnostics import BotLoadError, Diagnostic
from .http import HttpError, HttpPort, HttpRequest, HttpResponse
from .loader import load_bot
from .models import BotFile, FlowFile, bot_file_schema, flow_file_schema
from .runtime import Engine, FlowError, HandoffRequest, TimerRequest, TurnInput, TurnResult

__all__ = [
    "ActionContext",
    "ActionRegistry",
    "BotFile",
    "BotLoadError",
    "BotVersion",
    "CompiledFlow",
    "CompiledStep",
    "Diagnostic",
    "Engine",
    "FlowError",
    "FlowFile",
    "HandlerRef",
    "HandoffRequest",
    "HttpError",
    "HttpPort",
    "HttpRequest",
    "HttpResponse",
    "SourcePos",
    "TimerRequest",
    "TurnInput",
    "TurnResult",
    "action",
    "bot_file_schema",
    "flow_file_schema",
    "load_bot",
]
