"""Sandboxed Jinja: strict undefined naming the variable, native types, env guard."""

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from orchestrator.engine.templating import EnvScope, Scope, ScopeError, Templates


def ctx(**scopes):
    values = {name: Scope(name, data) for name, data in scopes.items()}
    values.setdefault("env", EnvScope({"KEY": "s3cret"}, allowed=False, purpose="a reply"))
    return values


def test_single_expression_keeps_its_native_type():
    t = Templates()
    c = ctx(flow={"n": 2, "items": [1, 2]})
    assert t.render("{{ flow.n + 1 }}", c) == 3
    assert t.render("{{ flow.items }}", c) == [1, 2]
    assert t.render(" {{ flow.n > 1 }} ", c) is True
    assert t.render("n={{ flow.n }}", c) == "n=2"
    assert t.render({"a": ["{{ flow.n }}", "x"]}, c) == {"a": [2, "x"]}
    assert t.render("plain text", c) == "plain text"


def test_undefined_variable_is_named_in_full():
    t = Templates()
    with pytest.raises(UndefinedError, match=r"undefined variable 'conv\.emial'"):
        t.render("Hi {{ conv.emial }}", ctx(conv={"email": "a@b.c"}))
    with pytest.raises(UndefinedError, match=r"undefined variable 'conv\.emial'"):
        t.evaluate("conv.emial + 1", ctx(conv={}))
    with pytest.raises(UndefinedError, match=r"undefined variable 'nope'"):
        t.render("{{ nope }}", ctx())


def test_env_is_unreadable_unless_allowed():
    t = Templates()
    with pytest.raises(ScopeError, match=r"env\.KEY cannot be used in a reply"):
        t.render("{{ env.KEY }}", ctx())
    allowed = {"env": EnvScope({"KEY": "s3cret"}, allowed=True, purpose="an http step")}
    assert t.render("Bearer {{ env.KEY }}", allowed) == "Bearer s3cret"


def test_sandbox_blocks_unsafe_attributes():
    t = Templates()
    with pytest.raises(SecurityError):
        t.render("{{ ''.__class__.__mro__ }}", ctx())


def test_filters_and_tests():
    t = Templates()
    c = ctx(conv={"email": "bob@example.com", "n": 2, "order": "A12345"})
    assert t.render("{{ conv.email | mask_email }}", c) == "b***@example.com"
    assert t.render("{{ conv.n | plural('item') }}", c) == "items"
    assert t.render("{{ 19 | money('EUR') }}", c) == "19.00 EUR"
    assert t.evaluate("conv.email is email and conv.order is match('^[A-Z][0-9]{5}$')", c)


def test_syntax_errors_and_scope_names():
    t = Templates()
    assert t.syntax_error("{{ x ", expression=False)
    assert t.syntax_error("a ==", expression=True)
    assert t.syntax_error("{{ x }}", expression=False) is None
    names = t.scope_names("{{ env.API_KEY }} {{ conv['x'] }}", expression=False)
    assert {"env.API_KEY", "conv.x"} <= names


def test_renders_like_jinjas_own_calls():
    """Templates builds each context from a flat copy of the globals (not Jinja's ChainMap):
    the output, and the errors, are those of `Template.render` and `TemplateExpression`."""
    t = Templates()
    c = ctx(flow={"n": 2, "items": ["a", "b"]}, sys={"open": True})
    sources = [
        "n={{ flow.n }} {{ 'open' if sys.open else 'closed' }}",
        "{% for i in flow.items %}{{ loop.index }}:{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}",
        "{{ range(3) | list }} {{ namespace(a=1).a }} {{ dict(a=1) }}\n",
    ]
    for source in sources:
        assert t.render(source, c) == t.env.from_string(source).render(**c)
    for expression in ("flow.n * 3", "sys.open and flow.items", "range(2) | list", "conv.missing is defined"):
        jinja = t.env.compile_expression(expression, undefined_to_none=False)(**c)
        assert t.evaluate(expression, c) == jinja
        assert t.truthy(expression, c) is bool(jinja)
    with pytest.raises(UndefinedError, match=r"undefined variable 'flow\.x'"):
        t.render("a {{ flow.x }} b", c)
