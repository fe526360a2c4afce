"""Issue 9 item 4: a failing expression that read env.* never puts the value anywhere."""

from __future__ import annotations

import pytest

from orchestrator.engine.http import HttpResponse

from .support import Chat, FakeHttp, make_bot, texts

SECRET = "sk-live-hunter22"


@pytest.mark.parametrize("condition", ["env.KEY | money", "{'a': 1}[env.KEY] + 1"])
async def test_error_text_is_redacted_everywhere(tmp_path, condition: str) -> None:
    flows = f"""\
    flows:
      f:
        triggers: [{{keywords: [go]}}]
        steps:
          - {{say: "on", when: "{condition}"}}
    """
    bot = "handlers:\n  error: {steps: [{say: 'Oops: {{ sys.error }}'}]}\n"
    chat = Chat(make_bot(tmp_path, flows, bot), env={"KEY": SECRET})
    result = await chat.text("go")
    assert result.error and texts(result)[0].startswith("Oops: ")
    for where in (result.error, str(result.replies), str(result.trace), str(result.conv_state)):
        assert SECRET not in where
    assert "***" in texts(result)[0] or "***" in result.error


@pytest.mark.parametrize("secret", [SECRET, 'quo"te-secret', "ünïcode-sécret"])
async def test_a_secret_in_the_trace_is_masked_whatever_its_characters(tmp_path, secret: str) -> None:
    """The trace is searched as JSON text before it is walked: a secret with characters JSON
    escapes is still found (here in an http step's query, which the trace keeps)."""
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - http: {method: GET, url: "http://api.test/x", query: {key: "{{ env.KEY }}"}}
          - say: "done"
    """
    chat = Chat(make_bot(tmp_path, flows, ""), env={"KEY": secret}, http=FakeHttp(HttpResponse(200)))
    result = await chat.text("go")
    assert texts(result) == ["done"]
    assert result.trace["calls"][0]["query"] == {"key": "***"}
