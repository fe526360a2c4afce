"""Drive the example bot (bots/support-desk.yaml) through every branch."""

from pathlib import Path

import pytest

from orchestrator.engine import ActionRegistry, BotVersion, HttpError, HttpResponse, load_bot

from .support import SATURDAY_23, Chat, FakeHttp, payloads_of, texts

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "ORDERS_API_URL": "https://orders.test/api",
    "ORDERS_API_TOKEN": "tok-secret-42",
    "ACCOUNT_LINK_URL": "https://login.test/link",
}


@pytest.fixture(scope="module")
def bot() -> BotVersion:
    return load_bot(ROOT / "bots" / "support-desk.yaml")


def orders_api(req):
    assert req.headers["Authorization"] == "Bearer tok-secret-42"
    order = req.url.rsplit("/", 1)[-1]
    if order == "A12345":
        return HttpResponse(200, {"id": "A12345", "status": "shipped", "eta": "2024-06-05"})
    if order == "B00000":
        raise HttpError("connection refused")
    return HttpResponse(404, {"error": "not found"})


@pytest.fixture
def chat(bot) -> Chat:
    return Chat(bot, http=FakeHttp(orders_api), actions=ActionRegistry.from_bot(bot), env=ENV)


async def test_the_bot_loads_cleanly(bot):
    assert bot.id == "support-desk" and bot.warnings == ()
    assert {
        "greeting",
        "faq_pricing",
        "order_status",
        "contact_form",
        "link_account",
        "human_handoff",
        "csat",
        "fallback",
    } <= set(bot.flow_ids)


async def test_greeting_buttons_and_quick_replies(chat):
    result = await chat.text("hey")
    [welcome] = result.replies
    assert welcome["type"] == "buttons"
    assert payloads_of(welcome) == ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK", "HANDOFF"]
    chat.locale = "fr"
    chat.state = None
    [bonjour] = (await chat.text("bonjour")).replies
    assert bonjour["text"].startswith("Bonjour") and payloads_of(bonjour)[0] == "MENU_FAQ"


async def test_faq_menu_pricing_carousel_and_plan_choice(chat):
    await chat.text("hi")
    [menu] = (await chat.click("MENU_FAQ")).replies
    assert menu["type"] == "single-choice"
    assert payloads_of(menu) == ["FAQ_HOURS", "FAQ_SHIPPING", "FAQ_RETURNS", "FAQ_PRICING"]
    intro, carousel = (await chat.quick("FAQ_PRICING")).replies
    assert intro["text"] == "Here are our plans:" and carousel["type"] == "carousel"
    assert [c["title"] for c in carousel["items"]] == ["Free", "Pro", "Business"]
    assert carousel["items"][1]["actions"][0] == {
        "action": "Postback",
        "title": "Choose Pro",
        "payload": "PLAN:pro",
    }
    chosen = await chat.click("PLAN:pro")
    assert texts(chosen)[0].startswith("Great choice: the Pro plan.")
    assert chosen.conv_state["conv"]["plan"] == "pro"


async def test_faq_by_keywords_accents_and_typos(chat):
    await chat.text("hi")
    hours = await chat.text("What are your OPENING hours?")
    assert texts(hours)[0].startswith("Our team answers Monday to Friday")
    assert "We're open right now." in texts(hours)[0]
    assert texts(await chat.text("shiping costs?"))[0].startswith("We ship within 2")
    refund = await chat.text("Remboursement")
    assert refund.replies[0]["type"] == "buttons" and "30 days" in refund.replies[0]["text"]
    assert texts(await chat.text("how much are the plans"))[0] == "Here are our plans:"


async def test_order_status_found(chat):
    await chat.text("hi")
    assert texts(await chat.click("MENU_ORDER"))[0].startswith("What is your order number?")
    result = await chat.text("a12345")
    assert texts(result)[0] == "Order A12345 is shipped, expected on 2024-06-05."
    [call] = chat.http.calls
    assert call.url == "https://orders.test/api/orders/A12345" and call.retries == 2
    assert "tok-secret-42" not in str(result.trace)


async def test_order_status_invalid_numbers_then_not_found_then_retry(chat):
    await chat.text("hi")
    await chat.text("where is my order")
    bad = await chat.text("123")
    assert texts(bad) == ["Order numbers are a letter and five digits, like A12345. Could you check?"]
    not_found = await chat.text("Z99999")
    assert texts(not_found) == ["I couldn't find order Z99999."]
    assert payloads_of(not_found.replies[0]) == ["ORDER_RETRY", "HANDOFF", "MENU"]
    again = await chat.quick("ORDER_RETRY")
    assert texts(again)[0].startswith("What is your order number?")
    assert again.conv_state["conv"]["order_id"] is None
    assert texts(await chat.text("A12345"))[0].startswith("Order A12345 is shipped")


async def test_order_status_api_down_offers_a_person(chat):
    await chat.text("hi")
    await chat.click("MENU_ORDER")
    down = await chat.text("B00000")
    assert texts(down) == [
        "Sorry, I can't reach our order system right now.",
        "Would you like to talk to a person?",
    ]
    assert payloads_of(down.replies[1]) == ["HANDOFF", "MENU"]
    assert down.error is None
    handed = await chat.quick("HANDOFF")
    assert handed.handoff_state == "pending" and "(order: B00000" in handed.handoff.summary


async def test_order_status_gives_up_after_three_bad_numbers(chat):
    await chat.text("hi")
    await chat.click("MENU_ORDER")
    await chat.text("1")
    await chat.text("2")
    result = await chat.text("3")
    assert texts(result) == [
        "I still can't read an order number there.",
        "Would you like to talk to a person?",
    ]
    assert chat.http.calls == []


async def test_missing_configuration_runs_the_error_handler(bot):
    chat = Chat(bot, http=FakeHttp(orders_api), actions=ActionRegistry.from_bot(bot), env={})
    await chat.text("hi")
    await chat.click("MENU_ORDER")
    result = await chat.text("A12345")
    assert "undefined variable 'env.ORDERS_API_URL'" in result.error
    assert "flows/support-desk/orders.yaml:" in result.error
    assert texts(result) == ["Sorry, something went wrong on my side.", "Anything else?"]


async def test_contact_form_with_reprompts_interruption_and_ticket(chat):
    await chat.text("hi")
    assert texts(await chat.click("MENU_CONTACT")) == ["What is your email address?"]
    assert texts(await chat.text("bob")) == [
        "That doesn't look like an email address (name@example.com). Could you check it?"
    ]
    assert texts(await chat.text("bob@mail.invalid")) == [
        "That domain can't receive mail. Could you give another address?"
    ]
    # a question in the middle of the form is answered, then the form resumes
    aside = await chat.text("what about shipping?")
    assert texts(aside)[0].startswith("We ship within 2")
    assert texts(aside)[-1] == "What is your email address?"
    assert texts(await chat.text("bob@example.com")) == ["What would you like to tell us?"]
    assert texts(await chat.text("help")) == ["Could you give a bit more detail (10 characters at least)?"]
    confirm = await chat.text("My parcel arrived broken")
    assert confirm.replies[0]["type"] == "buttons"
    assert payloads_of(confirm.replies[0]) == ["CONTACT_SEND", "CONTACT_EDIT_EMAIL", "CANCEL"]
    # change the email: asked again (skip_if_set does not skip an emptied value)
    assert texts(await chat.click("CONTACT_EDIT_EMAIL")) == ["What is your email address?"]
    await chat.text("robert@example.com")
    await chat.text("My parcel arrived broken")
    sent = await chat.click("CONTACT_SEND")
    first = texts(sent)[0]
    assert first.startswith("Thanks! Your ticket number is T-")
    assert "r***@example.com" in first and sent.error is None


async def test_contact_form_gives_up_to_a_person_and_times_out(chat):
    await chat.text("hi")
    await chat.click("MENU_CONTACT")
    for _ in range(2):
        await chat.text("nope")
    failed = await chat.text("still nope")
    assert texts(failed)[0] == "Let me put you in touch with a person instead."
    assert failed.handoff_state == "pending"

    chat.state = None
    await chat.text("hi")
    asked = await chat.click("MENU_CONTACT")
    assert [t.data["kind"] for t in asked.timers] == ["timeout", "session"]
    timed_out = await chat.fire()
    assert texts(timed_out) == ["I'll stop here for now. Come back whenever you like."]
    assert timed_out.ended == "abandoned"


async def test_cancel_is_always_on(chat):
    await chat.text("hi")
    await chat.click("MENU_CONTACT")
    await chat.text("bob@example.com")
    result = await chat.text("cancel")
    assert texts(result) == ["OK, I've cancelled that. Say hi whenever you need me."]
    assert result.ended == "abandoned" and result.waiting is False


async def test_account_linking_success(chat):
    await chat.text("hi")
    [link] = (await chat.click("MENU_LINK")).replies
    assert link["type"] == "account_linking"
    assert link["url"].startswith("https://login.test/link?bot=support-desk&user=u1")
    assert link["params"] == {
        "button_text": "Log in",
        "success_message": "You're logged in, you can close this page.",
    }
    linked = await chat.event("account_linked", {"account_id": "ACC-7"})
    assert texts(linked)[0] == "Thanks! Your account ACC-7 is now linked."
    assert linked.user_vars["linked_account"] == "ACC-7"
    assert texts(await chat.click("MENU_LINK")) == ["Your account ACC-7 is already linked."]


async def test_account_linking_timeout_apologises(chat):
    await chat.text("hi")
    await chat.click("MENU_LINK")
    timed_out = await chat.fire()
    [sorry] = timed_out.replies
    assert sorry["text"].startswith("I didn't get a confirmation")
    assert payloads_of(sorry) == ["MENU_LINK", "HANDOFF"]
    assert timed_out.waiting is False and timed_out.user_vars.get("linked_account") is None


async def test_handoff_in_hours_release_and_csat(chat):
    await chat.text("hi")
    started = await chat.text("I want to talk to a human")
    assert texts(started) == ["I'm connecting you with a member of our team. They'll be with you shortly."]
    assert started.handoff.queue == "support" and started.handoff_state == "pending"
    assert (await chat.text("hello? anyone?")).replies == []
    await chat.event("agent_joined")
    released = await chat.event("agent_released")
    [question] = released.replies
    assert question["text"].startswith("How would you rate")
    assert payloads_of(question) == ["CSAT_1", "CSAT_2", "CSAT_3", "CSAT_4", "CSAT_5"]
    rated = await chat.quick("CSAT_4")
    assert texts(rated) == ["Thank you, glad we could help!"]
    assert rated.ended == "resolved" and rated.user_vars["last_csat"] == 4


async def test_low_csat(chat):
    await chat.text("hi")
    await chat.click("HANDOFF")
    await chat.event("agent_released")
    assert texts(await chat.text("2")) == ["Thanks for telling us. We'll do better."]


async def test_handoff_outside_hours_offers_the_email_form(bot):
    chat = Chat(bot, actions=ActionRegistry.from_bot(bot), env=ENV, now=SATURDAY_23)
    await chat.text("hi")
    closed = await chat.click("HANDOFF")
    [offer] = closed.replies
    assert offer["text"].startswith("Our team is available Monday to Friday")
    assert payloads_of(offer) == ["CONTACT_FORM", "NO_THANKS"]
    assert closed.handoff is None and closed.handoff_state == "bot"
    assert texts(await chat.quick("CONTACT_FORM")) == ["What is your email address?"]


async def test_handoff_with_no_agents_goes_to_the_form(bot):
    chat = Chat(bot, actions=ActionRegistry.from_bot(bot), env=ENV, agents_available=False)
    await chat.text("hi")
    result = await chat.click("HANDOFF")
    assert texts(result) == [
        "All our agents are busy right now. Leave us a message and we'll get back to you.",
        "What is your email address?",
    ]


async def test_fallback_counts_misunderstandings_then_hands_off(chat):
    assert texts(await chat.text("blah"))[0].startswith("Hi! I'm the support bot")
    first = await chat.text("blah")
    assert texts(first) == ["Sorry, I didn't get that. You can pick a topic:"]
    second = await chat.text("blah blah")
    assert texts(second) == ["I'm not sure I understand. Could you rephrase, or pick a topic?"]
    third = await chat.text("gibberish")
    assert texts(third)[0] == "I keep misunderstanding you, sorry. Let me get a person to help."
    assert third.handoff_state == "pending" and "misunderstandings: 3" in third.handoff.summary


async def test_cancel_needs_the_whole_message(chat):
    await chat.text("hi")
    await chat.click("MENU_CONTACT")
    await chat.text("bob@example.com")
    result = await chat.text("I want to cancel my order please")
    assert texts(result)[0].startswith("I'll send this from bob@example.com")
    assert result.ended is None
