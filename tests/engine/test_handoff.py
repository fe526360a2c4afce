"""Handoff: business hours, agent availability, desk states, silence, release, close."""

from datetime import datetime

from .support import MONDAY_10, PARIS, SATURDAY_23, Chat, make_bot, texts

FLOWS = """\
flows:
  support:
    triggers: [{keywords: [agent]}]
    steps:
      - say: "Before."
      - id: to_agent
        handoff:
          queue: "{{ 'vip' if user.vip else 'support' }}"
          priority: high
          summary: "User wants help ({{ sys.channel }})"
          tags: [bot, "{{ sys.channel }}"]
          check_hours: true
          when_closed: [{say: "We're closed."}, {return: null}]
          when_no_agents: [{say: "Everyone is busy."}, {return: null}]
          on_released: {say: "Back with the bot."}
      - say: "After handoff."
"""
BOT = """\
bot:
  id: test
  timezone: Europe/Paris
  business_hours: {mon-fri: "09:00-18:00", sat: "10:00-12:00", holidays: ["2024-06-04"]}
variables:
  user.vip: {type: bool, persist: true}
"""
HEADER = "version: 1\nflows: [flows/test/*.yaml]\n"


def chat_at(tmp_path, now=MONDAY_10, **kw):
    return Chat(make_bot(tmp_path, FLOWS, BOT, header=HEADER), now=now, **kw)


async def test_handoff_in_hours_goes_pending_then_agent_then_released_then_bot(tmp_path):
    chat = chat_at(tmp_path)
    started = await chat.text("agent please")
    assert texts(started) == ["Before."]
    assert started.handoff_state == "pending" and started.waiting
    h = started.handoff
    assert (h.queue, h.priority, h.summary, h.tags) == (
        "support",
        "high",
        "User wants help (api)",
        ["bot", "api"],
    )
    # while a human has it, the bot stays silent
    silent = await chat.text("hello?")
    assert (silent.replies, silent.handoff_state, silent.handoff) == ([], "pending", None)
    joined = await chat.event("agent_joined")
    assert (joined.replies, joined.handoff_state) == ([], "agent")
    assert (await chat.quick("HANDOFF")).replies == []
    released = await chat.event("agent_released")
    assert released.handoff_state == "released"
    assert texts(released) == ["Back with the bot.", "After handoff."]
    back = await chat.text("agent")
    assert back.handoff_state == "pending"  # the bot has it again, so triggers work


async def test_closed_outside_business_hours_and_on_holidays(tmp_path):
    for now in (
        SATURDAY_23,
        datetime(2024, 6, 4, 11, 0, tzinfo=PARIS),
        datetime(2024, 6, 3, 18, 0, tzinfo=PARIS),
    ):
        chat = chat_at(tmp_path, now)
        result = await chat.text("agent")
        assert texts(result) == ["Before.", "We're closed."], now
        assert (result.handoff, result.handoff_state) == (None, "bot")
    saturday_morning = datetime(2024, 6, 1, 11, 59, tzinfo=PARIS)
    assert (await chat_at(tmp_path, saturday_morning).text("agent")).handoff_state == "pending"


async def test_no_agents_available(tmp_path):
    chat = chat_at(tmp_path, agents_available=False)
    result = await chat.text("agent")
    assert texts(result) == ["Before.", "Everyone is busy."] and result.handoff is None


async def test_release_without_on_released_runs_the_agent_released_handler(tmp_path):
    flows = FLOWS.replace('          on_released: {say: "Back with the bot."}\n', "")
    bot = BOT + "handlers:\n  agent_released: {steps: [{say: 'Rate us?'}]}\n"
    chat = Chat(make_bot(tmp_path, flows, bot, header=HEADER))
    await chat.text("agent")
    await chat.event("agent_joined")
    released = await chat.event("agent_released")
    assert texts(released) == ["Rate us?", "After handoff."]


async def test_desk_closes_the_conversation(tmp_path):
    chat = chat_at(tmp_path)
    await chat.text("agent")
    await chat.event("agent_joined")
    closed = await chat.event("closed")
    assert (closed.handoff_state, closed.ended, closed.replies) == ("closed", "handed_off", [])
    # the next message starts over with the bot
    again = await chat.text("agent")
    assert again.handoff_state == "pending"


async def test_desk_events_are_ignored_while_the_bot_has_the_conversation(tmp_path):
    chat = chat_at(tmp_path)
    result = await chat.event("agent_released")
    assert (result.replies, result.handoff_state, result.error) == ([], "bot", None)
