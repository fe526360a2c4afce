"""Issue 9 item 4: a failing expression that read env.* never puts the value anywhere."""

from __future__ import annotations

import pytest

from .support import Chat, make_bot, texts

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
