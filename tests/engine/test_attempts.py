"""`max_attempts: unlimited` asks until answered; always-on handlers still interrupt."""

from .support import Chat, make_bot, texts

FLOWS = """\
flows:
  pin:
    triggers: [{keywords: [pin]}]
    steps:
      - id: ask_pin
        ask: {prompt: "PIN?", into: conv.pin, type: int, max_attempts: unlimited, invalid: "Digits, please."}
      - say: "PIN {{ conv.pin }}"
  bye:
    steps: [{say: "Cancelled."}, {end: abandoned}]
"""
BOT = """\
handlers:
  cancel: {always: true, triggers: [{keywords: [cancel]}], flow: bye}
"""


async def test_unlimited_attempts_ask_until_answered_and_cancel_still_interrupts(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS, BOT))
    await chat.text("pin")
    for _ in range(25):  # beyond the numeric ceiling of 20
        assert texts(await chat.text("no idea")) == ["Digits, please."]
    assert texts(await chat.text("1234")) == ["PIN 1234"]
    await chat.text("pin")
    assert texts(await chat.text("x")) == ["Digits, please."]
    assert texts(await chat.text("cancel")) == ["Cancelled."]
