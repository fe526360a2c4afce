"""Corrections: a later question takes "actually make it 40" / "sorry, I meant Joe" as a new
value for an earlier `correctable` ask, and the flow runs again from after that ask."""

from .support import Chat, make_bot, texts

FLOWS = r"""
flows:
  pay:
    triggers: [{keywords: [pay]}]
    steps:
      - id: who
        ask: {prompt: "Who?", into: conv.who, correctable: true}
      - id: amount
        ask: {prompt: "How much for {{ conv.who }}?", into: conv.amount, type: float, correctable: true}
      - if: "conv.amount > 100"
        then: [{say: "Too much."}, {unset: [conv.amount]}, {goto: amount}]
      - id: ref
        ask: {prompt: "Reference?", into: conv.ref, correctable: '(?i)^ref(?:erence)? (?P<value>\w+)$'}
      - id: note
        ask: {prompt: "Note?", into: conv.note}
      - id: ok
        choose:
          prompt: "Pay {{ conv.amount }} to {{ conv.who }} ({{ conv.ref }})?"
          options: [{title: "Yes", payload: YES, steps: [{say: "Paid."}, {end: resolved}]}]
"""


async def _at_confirmation(chat: Chat) -> None:
    await chat.text("pay")
    for answer in ("Ann", "$50", "R1", "thanks"):
        await chat.text(answer)


async def test_a_correction_at_the_confirmation_reruns_the_dependent_steps(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    await _at_confirmation(chat)
    result = await chat.text("actually make it 40")
    assert texts(result) == ["Pay 40.0 to Ann (R1)?"]  # who, ref and note are kept, not asked
    assert result.trace["route"] == "correction of pay.amount at ok"
    assert {"flow": "pay", "step": "amount", "corrected": 40.0, "old": 50.0, "at": "ok"} in result.trace[
        "steps"
    ]
    assert texts(await chat.text("no, I meant 400")) == ["Too much.", "How much for Ann?"]
    assert texts(await chat.text("90")) == ["Pay 90.0 to Ann (R1)?"]
    assert texts(await chat.text("sorry, I meant Joe")) == ["Pay 90.0 to Joe (R1)?"]
    assert texts(await chat.text("ref R7")) == ["Pay 90.0 to Joe (R7)?"]  # its own regex


async def test_a_correction_at_a_free_text_question_is_not_its_answer(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    await chat.text("pay")
    await chat.text("Ann")
    assert texts(await chat.text("sorry, I meant Joe")) == ["How much for Joe?"]
    await chat.text("10")
    await chat.text("R1")
    assert texts(await chat.text("oops, I meant 20")) == ["Note?"]  # the note is still asked
    assert chat.state["conv"]["amount"] == 20.0


async def test_text_without_a_cue_or_too_long_for_a_name_is_an_answer(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    await chat.text("pay")
    await chat.text("Ann")
    await chat.text("10")
    await chat.text("R1")
    result = await chat.text("actually I would like it delivered on Monday")
    assert texts(result) == ["Pay 10.0 to Ann (R1)?"]
    assert chat.state["conv"]["note"] == "actually I would like it delivered on Monday"


async def test_the_trace_says_what_was_corrected_and_kept(tmp_path):
    from orchestrator.engine.trace_format import format_trace

    chat = Chat(make_bot(tmp_path, FLOWS))
    await _at_confirmation(chat)
    text = format_trace((await chat.text("actually make it 40")).trace)
    assert "pay.amount  corrected 50.0 → 40.0 (at ok)" in text
    assert "pay.ref  kept" in text
