"""Sandboxed Jinja2 for every expression and template of a bot.

- `SandboxedEnvironment` (its immutable variant) + a strict undefined that names the missing variable
  (`undefined variable 'conv.emial'`); no `eval`, ever.
- Conditions are bare expressions (`compile_expression`); strings render `{{ }}`; a field that
  is exactly one `{{ expr }}` keeps its native type (`"{{ flow.n + 1 }}"` stays an int).
- Scopes are read-only `Scope` views; `env.*` is readable only where the caller allows it
  (http steps and conditions), anywhere else reading it raises `ScopeError`.
- Bounded work: `**` and `*` are intercepted (so never folded at compile time, and refused when
  the result would exceed MAX_INT_BITS / MAX_SEQUENCE), `range` and `lipsum` are capped, and
  every evaluation has a time budget (RENDER_BUDGET seconds) checked on each call, operator,
  range step and chunk of output: over it, `BudgetExceeded` (a TemplateError) is raised.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2.environment import Template, TemplateExpression
from jinja2.exceptions import TemplateError, UndefinedError
from jinja2.runtime import Context, Undefined, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum, missing

from . import extract

RENDER_BUDGET = 1.0  # seconds of CPU one expression or template may take
MAX_INT_BITS = 4096  # the largest integer `**` or `*` may build (about 1,233 digits)
MAX_SEQUENCE = 100_000  # the longest string or list `*` may build, and the longest range
MAX_LIPSUM = 5  # paragraphs
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("template_deadline", default=None)

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_MARKERS = ("{{", "{%", "{#")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{6,20}$")
_URL = re.compile(r"^https?://[^\s]+$")


class ScopeError(Exception):
    """A template read a scope it may not read here (env.* outside http steps/conditions)."""


class Scope:
    """A read-only view of one variable scope, so undefined names can be reported in full."""

    __slots__ = ("_data", "_name")

    def __init__(self, name: str, data: Mapping[str, Any]):
        self._name = name
        self._data = data

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<{self._name}>"


class EnvScope(Scope):
    """`env.*`: the injected configuration; unreadable unless `allowed`."""

    __slots__ = ("_allowed", "_purpose")

    def __init__(self, data: Mapping[str, str], *, allowed: bool, purpose: str):
        super().__init__("env", data)
        self._allowed = allowed
        self._purpose = purpose

    def _check(self, key: str) -> None:
        if not self._allowed:
            raise ScopeError(
                f"env.{key} cannot be used in {self._purpose}: env.* is readable only in "
                "http steps and conditions, never in replies"
            )

    def __getattr__(self, key: str) -> Any:
        if not key.startswith("_"):
            self._check(key)
        return super().__getattr__(key)

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        if not self._allowed:
            raise ScopeError(f"env.* cannot be used in {self._purpose}")
        return super().__iter__()


class BudgetExceeded(TemplateError):
    """A template that would take too long or build too much; the turn fails into `error`."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"over the template budget: {reason}")


def _check_deadline() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded(f"took more than {RENDER_BUDGET:g} s")


def _size_of(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _bounded_binop(operator: str, left: Any, right: Any) -> Any:
    """`**` and `*` refused when the result would be too large to build in reasonable time."""
    _check_deadline()
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if abs(left).bit_length() * right > MAX_INT_BITS:
            raise BudgetExceeded(f"{left} ** {right} is too large (more than {MAX_INT_BITS} bits)")
        return left**right
    if operator == "*":
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise BudgetExceeded(f"a product larger than {MAX_INT_BITS} bits")
        for seq, times in ((left, right), (right, left)):
            size = _size_of(seq)
            if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
                raise BudgetExceeded(f"a repeated sequence longer than {MAX_SEQUENCE} items")
        return left * right
    return left**right


class _BoundedRange:
    """`range` whose iteration checks the time budget (nested loops cannot run forever)."""

    __slots__ = ("_range",)

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_SEQUENCE:
            raise BudgetExceeded(f"range longer than {MAX_SEQUENCE}")

    def __iter__(self) -> Iterator[int]:
        for n, value in enumerate(self._range):
            if n % 256 == 0:
                _check_deadline()
            yield value

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, value: object) -> bool:
        return value in self._range

    def __repr__(self) -> str:
        return repr(self._range)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > MAX_LIPSUM or max > 200:
        raise BudgetExceeded(f"lipsum is limited to {MAX_LIPSUM} paragraphs of 200 words")
    return str(generate_lorem_ipsum(n, html, min, max))


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with `**` and `*` intercepted and the time budget checked on every call."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return _bounded_binop(operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        return super().call(__context, __obj, *args, **kwargs)


class _Undefined(StrictUndefined):
    """A missing value: it can be tested (`if`, `not`, `and`/`or`, `is defined`, `default`,
    `==`/`!=`; an attribute of it is missing too), but printing it, iterating it or computing
    with it raises an error that names the full variable (`conv.emial`)."""

    __slots__ = ()
    __bool__ = Undefined.__bool__  # type: ignore[assignment]
    __eq__ = Undefined.__eq__  # type: ignore[assignment]
    __ne__ = Undefined.__ne__  # type: ignore[assignment]
    __hash__ = Undefined.__hash__  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        obj, name = self._undefined_obj, self._undefined_name
        if obj is missing:
            return f"undefined variable '{name}'"
        if isinstance(obj, Scope):
            return f"undefined variable '{obj._name}.{name}'"
        return f"undefined attribute '{name}' of {type(obj).__name__} value"


# ------------------------------------------------------------------ filters and tests


def _mask_email(value: Any) -> str:
    text = str(value)
    local, at, domain = text.partition("@")
    if not at:
        return text
    return f"{local[:1]}***@{domain}"


def _money(value: Any, currency: str = "EUR") -> str:
    return f"{float(value):,.2f} {currency}"


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, date):
        return value.strftime(fmt)
    raise TemplateError(f"date filter expects a date, got {type(value).__name__}")


def _plural(n: Any, singular: str, plural: str | None = None) -> str:
    return singular if n == 1 else (plural if plural is not None else singular + "s")


def _is(pattern: re.Pattern[str]) -> Any:
    return lambda value: isinstance(value, str) and bool(pattern.match(value.strip()))


def _match(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and re.match(pattern, value) is not None


def _search(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and re.search(pattern, value) is not None


@pass_context
def _extract_date(context: Any, value: Any, today: Any = None) -> str | None:
    if today is None:
        sys_scope = context.get("sys")
        today = sys_scope["today"] if sys_scope is not None and "today" in sys_scope else date.today()
    return extract.find_date(value, today)


EXTRACTORS = {
    "extract_number": extract.number,
    "extract_amount": extract.amount,
    "extract_currency": extract.currency,
    "extract_date": _extract_date,
    "extract_email": extract.find_email,
    "extract_choice": extract.choice,
}


def _new_environment() -> SandboxedEnvironment:
    # Immutable: templates cannot mutate state behind the engine's back (`x.append(1)`).
    env = _BoundedEnvironment(undefined=_Undefined, autoescape=False, keep_trailing_newline=True)
    env.globals.update(range=_BoundedRange, lipsum=_lipsum)
    env.filters.update(mask_email=_mask_email, money=_money, date=_date, plural=_plural)
    env.filters.update(EXTRACTORS)
    env.tests.update(email=_is(_EMAIL), phone=_is(_PHONE), url=_is(_URL), match=_match, search=_search)
    return env


# ------------------------------------------------------------------ the engine


def is_template(value: str) -> bool:
    """True when a string has Jinja markup and must be rendered."""
    return "{{" in value or "{%" in value or "{#" in value  # _MARKERS, without a generator


def single_expression(value: str) -> str | None:
    """The inner expression when `value` is exactly one `{{ expr }}`."""
    m = _SINGLE.match(value)
    if m and "{{" not in m.group("expr") and "}}" not in m.group("expr"):
        return m.group("expr")
    return None


class Templates:
    """Compiles (once, cached) and evaluates the expressions and templates of one bot."""

    def __init__(self) -> None:
        self.env = _new_environment()
        self._expressions: dict[str, Any] = {}
        self._templates: dict[str, Any] = {}
        # The environment's globals as one dict: Jinja gives each template a ChainMap of them,
        # which it copies key by key (in Python) into every new context.
        self._globals = dict(self.env.globals)

    # -- compile
    def _expression(self, source: str) -> Any:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self.env.compile_expression(source, undefined_to_none=False)
            self._expressions[source] = compiled
        return compiled

    def _template(self, source: str) -> Any:
        compiled = self._templates.get(source)
        if compiled is None:
            compiled = self.env.from_string(source)
            self._templates[source] = compiled
        return compiled

    def syntax_error(self, source: str, *, expression: bool) -> str | None:
        """The syntax error of an expression or template, or None when it compiles."""
        try:
            if expression:
                self._expression(source)
            else:
                expr = single_expression(source)
                if expr is not None:
                    self._expression(expr)
                elif is_template(source):
                    self._template(source)
        except TemplateSyntaxError as exc:
            return exc.message or str(exc)
        return self._constant_bomb(source, expression=expression)

    def _constant_bomb(self, source: str, *, expression: bool) -> str | None:
        """`9 ** 999999999` and the like, written with constants: refused before any turn."""
        try:
            tree = self.env.parse("{{ " + source + " }}" if expression else source)
        except TemplateSyntaxError:
            return None
        for node in tree.find_all((nodes.Pow, nodes.Mul)):
            operator = "**" if isinstance(node, nodes.Pow) else "*"
            left, right = node.left, node.right
            if isinstance(left, nodes.Const) and isinstance(right, nodes.Const):
                try:
                    _bounded_binop(operator, left.value, right.value)
                except BudgetExceeded as exc:
                    return str(exc)
                except Exception:
                    continue
        return None

    def scope_names(self, source: str, *, expression: bool) -> set[str]:
        """`scope.name` pairs read by an expression/template (e.g. {'env.API_KEY'})."""
        try:
            tree = self.env.parse("{{ " + source + " }}" if expression else source)
        except TemplateSyntaxError:
            return set()
        found: set[str] = set()
        for node in tree.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name):
                found.add(f"{node.node.name}.{node.attr}")
        for item in tree.find_all(nodes.Getitem):
            if isinstance(item.node, nodes.Name) and isinstance(item.arg, nodes.Const):
                found.add(f"{item.node.name}.{item.arg.value}")
        for name in tree.find_all(nodes.Name):
            found.add(name.name)
        return found

    # -- evaluate
    def evaluate(self, source: str, ctx: Mapping[str, Any]) -> Any:
        """The native value of a bare expression; undefined results raise."""
        with _budget():
            result = self._call(self._expression(source), ctx)
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            return plain(result)

    def truthy(self, source: str, ctx: Mapping[str, Any]) -> bool:
        """Whether a condition holds (a missing value does not)."""
        with _budget():
            return bool(self._call(self._expression(source), ctx))

    def render(self, value: Any, ctx: Mapping[str, Any]) -> Any:
        """Render strings inside `value` (recursively); a lone `{{ expr }}` keeps its type."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            expr = single_expression(value)
            if expr is not None:
                return self.evaluate(expr, ctx)
            with _budget():
                chunks = []
                for chunk in self._generate(self._template(value), ctx):
                    _check_deadline()
                    chunks.append(chunk)
                return "".join(chunks)
        if isinstance(value, dict):
            return {k: self.render(v, ctx) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, ctx) for v in value]
        return value

    def render_str(self, value: Any, ctx: Mapping[str, Any]) -> str:
        """Render to text (None renders as an empty string)."""
        result = self.render(value, ctx)
        return "" if result is None else str(result)

    # -- Jinja's own calls, with a context made from `_globals` (see __init__)
    def _context(self, template: Template, ctx: Mapping[str, Any]) -> Context:
        return new_context(self.env, template.name, template.blocks, dict(ctx), False, self._globals)

    def _call(self, expression: TemplateExpression, ctx: Mapping[str, Any]) -> Any:
        """`expression(**ctx)` (jinja2's TemplateExpression.__call__, undefined_to_none off)."""
        template = expression._template
        context = self._context(template, ctx)
        for _ in template.root_render_func(context):
            pass
        return context.vars["result"]

    def _generate(self, template: Template, ctx: Mapping[str, Any]) -> Iterator[str]:
        """`template.generate(**ctx)` (jinja2's Template.generate, not async)."""
        context = self._context(template, ctx)
        try:
            yield from template.root_render_func(context)
        except Exception:
            yield self.env.handle_exception()


class _budget:
    """Start the time budget, unless an enclosing evaluation already did."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = None
        if _deadline.get() is None:
            self._token = _deadline.set(time.monotonic() + RENDER_BUDGET)

    def __exit__(self, *_: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)


def plain(value: Any) -> Any:
    """A JSON-ready copy of a template result (scopes to dicts, dates to ISO strings)."""
    if isinstance(value, Scope):
        return {k: plain(v) for k, v in value._data.items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value if type(value) in (bool, int, float, str, type(None)) else str(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored or sent")


__all__ = [
    "BudgetExceeded",
    "EnvScope",
    "Scope",
    "ScopeError",
    "TemplateError",
    "Templates",
    "UndefinedError",
    "is_template",
    "plain",
    "single_expression",
]
