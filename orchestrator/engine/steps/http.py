"""`http`: call an HTTP API through the injected port; failures are flow data (`on_error`)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, cast

from .. import models as M
from ..compiled import CompiledStep
from ..errors import FlowError, describe_exception
from ..http import HttpRequest, HttpResponse, redact
from ..state import Frame
from ..templating import plain

TRACED_BODY = 4096  # a JSON answer up to this size (serialised) is kept in the turn's trace

if TYPE_CHECKING:
    from ..runtime import Turn


async def run_http(turn: Turn, frame: Frame, step: CompiledStep) -> None:
    """Send the request, trace the call, store the result `into`, branch on failure."""
    spec = cast(M.HttpStep, step.model).http
    ctx = turn.ctx("http", frame)
    render, render_str = turn.templates.render, turn.templates.render_str
    secrets = turn.e.secrets
    req = HttpRequest(
        method=spec.method,
        url=render_str(spec.url, ctx),
        headers={k: render_str(v, ctx) for k, v in spec.headers.items()},
        query={k: render_str(v, ctx) for k, v in spec.query.items()},
        json=plain(render(spec.json_, ctx)) if spec.json_ is not None else None,
        form={k: render_str(v, ctx) for k, v in spec.form.items()} if spec.form else None,
        timeout=spec.timeout,
        retries=spec.retries,
        secrets=secrets,
    )
    started = time.perf_counter()
    response: HttpResponse | None = None
    problem: str | None = None
    try:
        response = await turn.e.http(req)
        if response.status >= 500:
            problem = f"HTTP {response.status}"
    except Exception as exc:  # the port's failures (network, timeout) are flow data
        problem = describe_exception(exc) or type(exc).__name__
    call: dict[str, Any] = {
        "type": "http",
        "method": req.method,
        "url": redact(req.url, secrets),
        "status": response.status if response else None,
        "ms": round((time.perf_counter() - started) * 1000, 3),
        "step": step.id,
    }
    if req.query:
        call["query"] = dict(req.query)
    if response is not None and response.json is not None and len(json.dumps(response.json)) <= TRACED_BODY:
        call["response"] = response.json  # what `orchestrator record` turns into a mock
    if problem:
        call["error"] = redact(problem, secrets)
    turn.trace["calls"].append(call)
    result = response.as_dict() if response else {"status": 0, "json": None, "text": "", "headers": {}}
    if problem:
        result["error"] = call["error"]
    if spec.into:
        turn.write(spec.into, result, frame)
    if problem is None:
        frame.pc = step.next
    elif "on_error" in step.branches:
        turn.last_error = call["error"]
        turn.took("on_error")
        frame.pc = step.branches["on_error"]
    else:
        raise FlowError(f"http {req.method} {call['url']} failed: {call['error']}", step)
