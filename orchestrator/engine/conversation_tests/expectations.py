"""State assertions (`expect:` items): variables, the running flow and step, the handoff, the
outcome, actions and HTTP calls made, the trace and the error of the turns so far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..http import HttpRequest
from ..runtime import HandoffRequest
from ..trace_format import format_trace
from .mocks import full_url, request_matches
from .models import Expect, HandoffExpect, HttpRequestMatch
from .values import same_json, show_json, subset

_UNSET = object()


@dataclass
class Observed:
    """What a conversation test has seen so far, as its `expect:` items read it."""

    state: dict[str, Any]  # the stored conversation state ({} before any)
    user_vars: dict[str, Any]
    ended: str | None  # the outcome of the last end so far
    handoff: HandoffRequest | None  # the last handoff request
    error: str | None  # the error of the last turn, if not expected yet
    action_calls: list[tuple[str, dict[str, Any]]]
    http_calls: list[HttpRequest]
    traces: list[dict[str, Any]]  # the engine traces of the current bot turn


def expect_problems(exp: Expect, seen: Observed) -> list[str]:
    """What does not hold, for each key an `expect:` item gives."""
    given = exp.model_fields_set
    problems: list[str] = []
    state = seen.state
    frames = state.get("frames") or []
    top = frames[-1] if frames else None
    if "vars" in given and exp.vars is not None:
        for name, want in exp.vars.items():
            got = _read_var(name, seen, top)
            if got is _UNSET and want is None:
                continue  # null: unset or null
            if got is _UNSET or not same_json(want, got):
                shown = "unset" if got is _UNSET else show_json(got)
                problems.append(f"{name} is {shown}, expected {show_json(want)}")
    if "flow" in given:
        got_flow = top["flow"] if top else None
        if got_flow != exp.flow:
            problems.append(f"the running flow is {show_json(got_flow)}, expected {show_json(exp.flow)}")
    if "step" in given:
        got_step = ((top.get("wait") or {}).get("step") or top.get("pc")) if top else None
        if got_step != exp.step:
            problems.append(f"the current step is {show_json(got_step)}, expected {show_json(exp.step)}")
    if "waiting" in given:
        got_wait = bool(top and top.get("wait"))
        if got_wait != exp.waiting:
            problems.append(f"waiting is {str(got_wait).lower()}, expected {str(exp.waiting).lower()}")
    if "handoff" in given:
        problems.extend(_handoff_problems(exp.handoff, state, seen.handoff))
    if "ended" in given and seen.ended != exp.ended:
        problems.append(f"ended is {show_json(seen.ended)}, expected {show_json(exp.ended)}")
    if "called" in given and exp.called is not None:
        problems.extend(_called_problems(exp.called, seen.action_calls))
    if "http_called" in given and exp.http_called is not None:
        problems.extend(_http_problems(exp.http_called, seen.http_calls))
    if "trace_contains" in given and exp.trace_contains is not None:
        wanted = [exp.trace_contains] if isinstance(exp.trace_contains, str) else exp.trace_contains
        text = "\n".join(format_trace(t) for t in seen.traces)
        problems.extend(f"the trace does not contain {show_json(w)}" for w in wanted if w not in text)
    if "intent" in given:
        winners = [t.get("winner") or {} for t in seen.traces]
        matched = [w.get("target") for w in winners if str(w.get("trigger", "")).startswith("examples")]
        got_intent = matched[0] if matched else None
        if got_intent != exp.intent:
            near = [d.get("name") for t in seen.traces for d in t.get("did_you_mean") or []]
            hint = f" (it came close to {', '.join(near)})" if near and got_intent is None else ""
            problems.append(
                f"the intent matched is {show_json(got_intent)}, expected {show_json(exp.intent)}{hint}"
            )
    if "error" in given:
        if exp.error is None and seen.error is not None:
            problems.append(f"the turn failed: {seen.error}")
        elif exp.error is not None and (seen.error is None or exp.error not in seen.error):
            problems.append(
                f"expected the turn to fail with {show_json(exp.error)}, got {show_json(seen.error)}"
            )
    return problems


def _read_var(name: str, seen: Observed, top: dict[str, Any] | None) -> Any:
    """The value of `conv.x`, `user.x` or `flow.x` (of the top flow); `_UNSET` when there is none."""
    scope, _, rest = name.partition(".")
    box: Any
    if scope == "conv":
        box = seen.state.get("conv") or {}
    elif scope == "user":
        box = seen.user_vars
    elif scope == "flow":
        box = (top or {}).get("vars") or {}
    else:
        return _UNSET
    for part in rest.split("."):
        if not isinstance(box, dict) or part not in box:
            return _UNSET
        box = box[part]
    return box


def _handoff_problems(
    want: str | HandoffExpect | None, state: dict[str, Any], req: HandoffRequest | None
) -> list[str]:
    """The checks of the handoff state and of the last handoff request."""
    hs = state.get("handoff") or {}
    current = hs.get("state", "bot")
    if want is None:
        if current in ("pending", "agent"):
            return [f"the handoff is {current} (queue {hs.get('queue')}), expected none"]
        return []
    if isinstance(want, str):
        return [] if current == want else [f"the handoff is {current}, expected {want}"]
    problems = []
    wanted_state = want.state
    if wanted_state is None and current not in ("pending", "agent"):
        problems.append(f"the handoff is {current}, expected pending or agent")
    elif wanted_state is not None and wanted_state != current:
        problems.append(f"the handoff is {current}, expected {wanted_state}")
    if want.queue is not None and hs.get("queue") != want.queue:
        problems.append(
            f"the handoff queue is {show_json(hs.get('queue'))}, expected {show_json(want.queue)}"
        )
    if want.priority is not None and (req is None or req.priority != want.priority):
        problems.append(
            f"the handoff priority is {show_json(req and req.priority)}, expected {want.priority}"
        )
    if want.summary is not None and (req is None or req.summary != want.summary):
        problems.append(
            f"the handoff summary is {show_json(req and req.summary)}, expected {show_json(want.summary)}"
        )
    if want.summary_contains is not None and (req is None or want.summary_contains not in req.summary):
        problems.append(
            f"the handoff summary {show_json(req and req.summary)} does not contain "
            f"{show_json(want.summary_contains)}"
        )
    if want.tags is not None and (req is None or req.tags != want.tags):
        problems.append(
            f"the handoff tags are {show_json(req and req.tags)}, expected {show_json(want.tags)}"
        )
    return problems


def _called_problems(called: dict[str, Any], calls_made: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The checks of the actions called: called or not, how often, or with which params."""
    problems = []
    for name, want in called.items():
        calls = [p for n, p in calls_made if n == name]
        if want is True and not calls:
            problems.append(f"action '{name}' was not called")
        elif want is False and calls:
            problems.append(f"action '{name}' was called {len(calls)} time(s), expected never")
        elif isinstance(want, int) and not isinstance(want, bool) and len(calls) != want:
            problems.append(f"action '{name}' was called {len(calls)} time(s), expected {want}")
        elif isinstance(want, dict) and not any(subset(want, p) for p in calls):
            seen = ", ".join(show_json(p) for p in calls) or "never called"
            problems.append(f"action '{name}' was not called with {show_json(want)} ({seen})")
    return problems


def _http_problems(wanted: int | list[HttpRequestMatch], calls: list[HttpRequest]) -> list[str]:
    """The checks of the HTTP calls made: how many, or one matching each pattern."""
    if isinstance(wanted, int):
        return [] if len(calls) == wanted else [f"{len(calls)} HTTP call(s), expected {wanted}"]
    problems = []
    for w in wanted:
        if not any(request_matches(w, c) for c in calls):
            made = ", ".join(f"{c.method} {full_url(c)}" for c in calls) or "none"
            shown = show_json(w.model_dump(by_alias=True, exclude_none=True))
            problems.append(f"no HTTP call matched {shown} (calls: {made})")
    return problems
