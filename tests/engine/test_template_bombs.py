"""Issue 9 items 5 and 6: one template cannot hold the event loop; a bomb fails into `error`."""

from __future__ import annotations

import time

import pytest

from orchestrator.engine.templating import Templates

from .support import Chat, make_bot, texts

BOMBS = {
    "power": "{{ (flow.n + 8) ** 30000000 }}",
    "loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "stored_range": (
        "{% set r = range(2000) %}{% for a in r %}{% for b in r %}{% for c in r %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "lipsum": "{{ lipsum(2000000) }}",
    "repeat": "{{ turn.text * 40000000 }}",
    "product": "{{ (flow.n + 8) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) }}",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
async def test_a_bomb_fails_into_the_error_handler(tmp_path, name: str) -> None:
    flows = f"""\
    flows:
      bomb:
        triggers: [{{keywords: [go]}}]
        params: {{n: {{type: int, default: 1}}}}
        steps:
          - say: "{BOMBS[name]}"
    """
    bot = "handlers:\n  error: {steps: [{say: 'Oops'}]}\n"
    chat = Chat(make_bot(tmp_path, flows, bot))
    started = time.monotonic()
    result = await chat.text("go")
    assert time.monotonic() - started < 20
    assert texts(result) == ["Oops"]
    assert "over the template budget" in result.error


def test_constant_folding_is_not_done_at_compile_time() -> None:
    templates = Templates()
    started = time.monotonic()
    assert "too large" in (templates.syntax_error("9 ** 999999999", expression=True) or "")
    assert "too large" in (templates.syntax_error("x {{ 9 ** 999999999 }} y", expression=False) or "")
    assert templates.syntax_error("2 ** 10 * 3", expression=True) is None
    assert time.monotonic() - started < 5


def test_ordinary_arithmetic_still_works() -> None:
    templates = Templates()
    assert templates.render("{{ 2 ** 10 }}", {}) == 1024
    assert templates.render("{{ 'ab' * 3 }}-{{ [1] * 2 }}-{{ 2.5 ** 2 }}", {}) == "ababab-[1, 1]-6.25"
    assert templates.render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    assert templates.render("{{ range(5) | list | length }}", {}) == 5
