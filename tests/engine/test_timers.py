"""Timers: returned as the complete wanted set; firing them (injected clock) advances flows."""

from datetime import timedelta

from .support import MONDAY_10, Chat, make_bot, texts

FLOWS = """\
flows:
  form:
    triggers: [{keywords: [form]}]
    steps:
      - id: ask_name
        ask:
          prompt: "Name?"
          into: flow.name
          timeout: 2m
          on_timeout: [{say: "Too slow."}, {end: abandoned}]
      - say: "Hi {{ flow.name }}"
  pause:
    triggers: [{keywords: [pause]}]
    steps:
      - say: "Wait for it..."
      - id: breathe
        wait: {duration: 5s}
      - say: "Done waiting."
  nudge:
    triggers: [{keywords: [nudge]}]
    steps:
      - id: ask_color
        ask: {prompt: "Color?", into: flow.color, timeout: 1m}
      - say: "{{ flow.color }}"
"""


async def test_ask_timeout_timer_is_returned_and_firing_it_runs_on_timeout(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    result = await chat.text("form")
    [timer] = result.timers
    assert timer.due == MONDAY_10 + timedelta(minutes=2)
    assert timer.data["timer_id"] == timer.id
    fired = await chat.fire()
    assert (texts(fired), fired.ended, fired.timers) == (["Too slow."], "abandoned", [])


async def test_answering_cancels_the_timer_and_a_stale_timer_is_ignored(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    [timer] = (await chat.text("form")).timers
    answered = await chat.text("Ann")
    assert (texts(answered), answered.timers) == (["Hi Ann"], [])
    state_before = chat.state
    stale = await chat.send({"type": "event", "event": "timer", "data": timer.data})
    assert stale.replies == [] and stale.error is None
    assert stale.conv_state == state_before
    assert stale.trace["route"] == f"stale timer {timer.id}"


async def test_a_reprompt_rearms_the_timer(tmp_path):
    flows = FLOWS.replace("into: flow.name\n", "into: flow.name\n          type: int\n")
    chat = Chat(make_bot(tmp_path, flows))
    [first] = (await chat.text("form")).timers
    chat.advance(60)
    [second] = (await chat.text("not a number")).timers
    assert second.id != first.id and second.due == chat.now + timedelta(minutes=2)


async def test_wait_duration_continues_when_its_timer_fires(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    result = await chat.text("pause")
    assert texts(result) == ["Wait for it..."] and result.waiting
    assert result.timers[0].due == MONDAY_10 + timedelta(seconds=5)
    assert texts(await chat.fire()) == ["Done waiting."]


async def test_timeout_without_on_timeout_runs_the_timeout_handler_then_reprompts(tmp_path):
    bot = "handlers:\n  timeout: {steps: [{say: 'Still there?'}]}\n"
    chat = Chat(make_bot(tmp_path, FLOWS, bot))
    await chat.text("nudge")
    result = await chat.fire()
    assert texts(result) == ["Still there?", "Color?"]
    assert len(result.timers) == 1 and result.waiting
    assert texts(await chat.text("blue")) == ["blue"]


async def test_timeout_without_any_handler_keeps_waiting(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS))
    await chat.text("nudge")
    result = await chat.fire()
    assert result.replies == [] and result.waiting and result.timers == []
    assert texts(await chat.text("red")) == ["red"]


async def test_session_timeout(tmp_path):
    bot = "bot:\n  id: test\n  limits: {session_timeout: 30m}\n"
    header = "version: 1\nflows: [flows/test/*.yaml]\n"
    chat = Chat(make_bot(tmp_path, FLOWS, bot, header=header))
    result = await chat.text("nudge")
    assert sorted(t.data["kind"] for t in result.timers) == ["session", "timeout"]
    session = next(t for t in result.timers if t.data["kind"] == "session")
    chat.now = session.due
    ended = await chat.send({"type": "event", "event": "timer", "data": session.data})
    assert (ended.ended, ended.timers, ended.waiting) == ("abandoned", [], False)
