"""Issue 16 item 6: an interrupted question comes back right after the interrupting flow ends,
and only when that was an aside; after a new topic its flow's `after_interruption` decides
(drop by default, resume, or ask first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine import ActionRegistry, BotVersion, HttpResponse, load_bot

from .support import SATURDAY_23, Chat, FakeHttp, make_bot, texts

ROOT = Path(__file__).resolve().parents[2]
ENV = {"ORDERS_API_URL": "https://orders.test/api", "ORDERS_API_TOKEN": "t"}


@pytest.fixture(scope="module")
def desk() -> BotVersion:
    return load_bot(ROOT / "bots" / "support-desk.yaml")


def desk_chat(bot: BotVersion) -> Chat:
    http = FakeHttp(lambda req: HttpResponse(404, {"error": "not found"}))
    return Chat(bot, http=http, actions=ActionRegistry.from_bot(bot), env=ENV)


async def test_the_out_of_hours_offer_does_not_come_back_after_hello(desk):
    chat = desk_chat(desk)
    chat.now = SATURDAY_23
    await chat.text("hi")
    offer = texts(await chat.click("HANDOFF"))
    assert any("away right now" in t for t in offer)
    after = texts(await chat.text("hello"))
    assert after == ["Hi! I'm the support bot. How can I help you today?"]
    assert chat.last.conv_state["frames"] == []
    later = texts(await chat.text("what about shipping?"))
    assert not any("away right now" in t for t in later)


async def test_an_unknown_order_is_not_asked_again_after_another_topic(desk):
    chat = desk_chat(desk)
    await chat.click("MENU_ORDER")
    assert texts(await chat.text("Z99999")) == ["I couldn't find order Z99999."]
    faq = texts(await chat.click("FAQ_HOURS"))
    assert faq[0].startswith("Our team answers Monday to Friday")
    assert faq[-1] == "Anything else?" and not any("Z99999" in t for t in faq)
    nxt = texts(await chat.text("hello"))
    assert nxt == ["Hi! I'm the support bot. How can I help you today?"]


async def test_a_half_filled_form_resumes_after_another_topic(desk):
    """contact_form says `after_interruption: resume`."""
    chat = desk_chat(desk)
    await chat.click("MENU_CONTACT")
    aside = texts(await chat.text("what about shipping?"))
    assert aside[0].startswith("We ship") and aside[-1] == "What is your email address?"


FLOWS = """\
flows:
  form:
    triggers: [{keywords: [form]}]
    triggers_first: true
    after_interruption: %s
    steps:
      - id: name
        ask: {prompt: "Your name?", into: flow.name}
      - say: "Thanks {{ flow.name }}."
  hours:
    triggers: [{keywords: [hours]}]
    steps:
      - say: "9 to 5."
  menu:
    triggers: [{keywords: [menu]}]
    steps:
      - say: {text: "Menu:", quick_replies: [{title: Form, payload: FORM}]}
  survey:
    triggers: [{keywords: [survey]}]
    steps:
      - id: rate
        ask: {prompt: "Rate us?", into: flow.rate}
      - say: "Noted."
"""


async def test_an_aside_that_offers_nothing_resumes_whatever_the_policy(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS % "drop"))
    await chat.text("form")
    assert texts(await chat.text("hours")) == ["9 to 5.", "Your name?"]
    assert texts(await chat.text("Ann")) == ["Thanks Ann."]


async def test_drop_is_the_default_after_a_new_topic(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS.replace("    after_interruption: %s\n", "")))
    await chat.text("form")
    assert texts(await chat.text("menu")) == ["Menu:"]
    assert chat.last.conv_state["frames"] == []
    assert "interrupted" in str(chat.last.trace["steps"])


async def test_a_topic_that_spans_turns_is_a_new_topic(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS % "drop"))
    await chat.text("form")
    assert texts(await chat.text("survey")) == ["Rate us?"]
    assert texts(await chat.text("5")) == ["Noted."]
    assert chat.last.conv_state["frames"] == []


async def test_resume_asks_the_question_again_after_a_new_topic(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS % "resume"))
    await chat.text("form")
    await chat.text("survey")
    assert texts(await chat.text("5")) == ["Noted.", "Your name?"]
    assert texts(await chat.text("Ann")) == ["Thanks Ann."]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"type": "quick_reply", "payload": "RESUME_YES"}, ["Your name?"]),
        ({"type": "text", "text": "yes"}, ["Your name?"]),
        ({"type": "quick_reply", "payload": "RESUME_NO"}, []),
        ({"type": "text", "text": "hours"}, ["9 to 5."]),
    ],
)
async def test_ask_offers_to_go_back(tmp_path, answer, expected):
    chat = Chat(make_bot(tmp_path, FLOWS % "ask"))
    await chat.text("form")
    [_menu, offer] = (await chat.text("menu")).replies
    assert offer["text"] == "Shall we go back to where we were?"
    assert [c["value"] for c in offer["choices"]] == ["RESUME_YES", "RESUME_NO"]
    assert texts(await chat.send(answer)) == expected
    still = expected == ["Your name?"]
    assert bool(chat.last.conv_state["frames"]) == still


async def test_ask_uses_the_flow_resume_prompt(tmp_path):
    flows = FLOWS % 'ask\n    resume_prompt: "Back to the form?"'
    chat = Chat(make_bot(tmp_path, flows))
    await chat.text("form")
    assert texts(await chat.text("menu")) == ["Menu:", "Back to the form?"]
