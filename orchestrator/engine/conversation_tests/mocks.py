"""Test doubles the engine runs against: an `HttpPort` and an action registry answering from a
test's `mocks:`. A call nothing answers is recorded as a problem, and the test fails."""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from ..actions import ActionContext, ActionFn, ActionRegistry
from ..http import HttpError, HttpRequest, HttpResponse
from .models import ActionMock, HttpMock, HttpRequestMatch
from .values import subset


class MockHttp:
    """An HttpPort answering from a test's mocks; anything else is recorded as a problem."""

    def __init__(self, mocks: list[HttpMock], problems: list[str]) -> None:
        self.mocks = mocks
        self.used = [0] * len(mocks)
        self.calls: list[HttpRequest] = []
        self.problems = problems

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        self.calls.append(req)
        for i, mock in enumerate(self.mocks):
            if mock.times is not None and self.used[i] >= mock.times:
                continue
            if request_matches(mock.request, req):
                self.used[i] += 1
                if mock.error is not None:
                    raise HttpError(mock.error)
                assert mock.response is not None
                r = mock.response
                text = r.text if r.text is not None else ("" if r.json_ is None else json.dumps(r.json_))
                return HttpResponse(r.status, copy.deepcopy(r.json_), text, dict(r.headers))
        body = f" json {json.dumps(req.json)}" if req.json is not None else ""
        if req.form is not None:
            body = f" form {json.dumps(dict(req.form))}"
        self.problems.append(
            f"unmocked HTTP call {req.method} {full_url(req)}{body} (add it under mocks.http)"
        )
        raise HttpError("unmocked HTTP call (the test fails)")


def full_url(req: HttpRequest) -> str:
    """The URL of a request with its query string (keys sorted)."""
    if not req.query:
        return req.url
    return (
        req.url
        + ("&" if "?" in req.url else "?")
        + urlencode(sorted((k, str(v)) for k, v in req.query.items()))
    )


def request_matches(match: HttpRequestMatch, req: HttpRequest) -> bool:
    """Whether a request fits a pattern (glob URL, subset of query, headers, form and JSON)."""
    if match.method and match.method.upper() != req.method.upper():
        return False
    if match.url is not None:
        target = full_url(req) if "?" in match.url else req.url
        if not fnmatch.fnmatchcase(target, match.url):
            return False
    if match.query is not None:
        for k, v in match.query.items():
            if k not in req.query or str(req.query[k]) != str(v):
                return False
    if match.headers is not None:
        lower = {k.lower(): v for k, v in req.headers.items()}
        for k, v in match.headers.items():
            if lower.get(k.lower()) != v:
                return False
    if match.form is not None:
        form = req.form or {}
        if any(k not in form or str(form[k]) != str(v) for k, v in match.form.items()):
            return False
    return match.json_ is None or subset(match.json_, req.json)


class MockActions:
    """Actions answered from a test's mocks; an unmocked one is a problem unless real actions
    are allowed (`--allow-actions`)."""

    def __init__(
        self,
        mocks: dict[str, ActionMock | list[ActionMock]],
        names: Iterable[str],
        real: ActionRegistry | None,
        problems: list[str],
    ) -> None:
        self.mocks = {k: (list(v) if isinstance(v, list) else [v]) for k, v in mocks.items()}
        self.real = real
        self.problems = problems
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.registry = ActionRegistry({name: self._make(name) for name in {*names, *self.mocks}})

    def _make(self, name: str) -> ActionFn:
        """The stand-in registered as action `name`."""

        async def run(ctx: ActionContext, **params: Any) -> Any:
            self.calls.append((name, copy.deepcopy(params)))
            queue = self.mocks.get(name)
            if queue:
                result = queue.pop(0) if len(queue) > 1 else queue[0]
                if result.error is not None:
                    raise RuntimeError(result.error)
                return copy.deepcopy(result.returns)
            if self.real is not None and name in self.real:
                return await self.real.call(name, ctx, params)
            self.problems.append(
                f"unmocked action '{name}' called with {json.dumps(params, default=str)} "
                "(add it under mocks.actions, or run with --allow-actions)"
            )
            raise RuntimeError(f"unmocked action '{name}' (the test fails)")

        return run
