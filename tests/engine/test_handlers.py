"""Handlers (session_start, no_match, always-on, error, version_gone) and interruptions."""

from .support import Chat, make_bot, payloads_of, texts

FLOWS = """\
flows:
  greet:
    steps: [{say: "Welcome!"}]
  faq:
    triggers: [{keywords: [shipping]}, {payload: FAQ}]
    steps: [{say: "We ship fast."}]
  form:
    triggers: [{keywords: [form]}]
    steps:
      - id: ask_email
        ask:
          prompt:
            text: "Email?"
            quick_replies: [{title: Shipping info, payload: FAQ}, {title: Agent, payload: HUMAN}]
          into: conv.email
          type: email
          invalid: "Not an email."
      - say: "Thanks {{ conv.email }}"
  strict:
    interruptible: false
    triggers: [{keywords: [strict]}]
    steps:
      - id: code
        ask: {prompt: "Code?", into: conv.code, type: int, invalid: "Digits only."}
      - say: "code {{ conv.code }}"
  human:
    steps: [{say: "Getting a human."}]
  cancel:
    steps: [{say: "Cancelled."}, {end: abandoned}]
"""
BOT = """\
variables:
  conv.email: {type: email}
  conv.code: {type: int}
handlers:
  session_start: {flow: greet}
  no_match: {steps: [{say: "No idea about '{{ turn.text }}'."}]}
  cancel: {always: true, triggers: [{keywords: [cancel]}], flow: cancel}
  human: {always: false, triggers: [{payload: HUMAN}], flow: human}
"""


def chat_for(tmp_path, flows=FLOWS, bot=BOT):
    return Chat(make_bot(tmp_path, flows, bot))


async def test_session_start_then_no_match(tmp_path):
    chat = chat_for(tmp_path)
    first = await chat.text("hello")
    assert (texts(first), first.trace["route"]) == (["Welcome!"], "session_start")
    second = await chat.text("hello")
    assert (texts(second), second.trace["route"]) == (["No idea about 'hello'."], "no_match")


async def test_a_first_message_that_matches_a_trigger_skips_session_start(tmp_path):
    chat = chat_for(tmp_path)
    result = await chat.text("shipping?")
    assert texts(result) == ["We ship fast."]
    assert result.trace["winner"]["target"] == "faq"
    assert result.trace["candidates"][0]["trigger"] == "keywords shipping"


async def test_interruption_resumes_the_question(tmp_path):
    chat = chat_for(tmp_path)
    await chat.text("form")
    result = await chat.text("what about shipping")
    # the digression answers, then the interrupted question is asked again
    assert texts(result) == ["We ship fast.", "Email?"]
    assert result.waiting and chat.state["frames"][-1]["wait"]["step"] == "ask_email"
    assert texts(await chat.text("a@b.co")) == ["Thanks a@b.co"]


async def test_prompt_button_matching_a_trigger_is_an_interruption_not_invalid(tmp_path):
    chat = chat_for(tmp_path)
    [prompt] = (await chat.text("form")).replies
    assert payloads_of(prompt) == ["FAQ", "HUMAN"]
    result = await chat.click("FAQ")
    assert texts(result) == ["We ship fast.", "Email?"]
    result = await chat.click("HUMAN")
    assert texts(result) == ["Getting a human.", "Email?"]


async def test_non_interruptible_flow_treats_trigger_words_as_answers(tmp_path):
    chat = chat_for(tmp_path)
    await chat.text("strict")
    assert texts(await chat.text("shipping")) == ["Digits only."]
    # a button payload still interrupts
    assert texts(await chat.click("FAQ")) == ["We ship fast.", "Code?"]
    assert texts(await chat.text("7")) == ["code 7"]


async def test_always_on_handler_interrupts_even_a_non_interruptible_ask(tmp_path):
    chat = chat_for(tmp_path)
    await chat.text("strict")
    result = await chat.text("cancel")
    assert (texts(result), result.ended, result.waiting) == (["Cancelled."], "abandoned", False)
    assert result.trace["winner"]["reason"] == "always-on handler"


async def test_flow_level_handler_beats_the_global_one(tmp_path):
    flows = FLOWS.replace(
        "  strict:\n    interruptible: false\n",
        "  strict:\n    interruptible: false\n    handlers:\n"
        "      cancel: {always: true, triggers: [{keywords: [cancel]}],"
        " steps: [{say: 'Cannot cancel a code.'}]}\n",
    )
    chat = chat_for(tmp_path, flows)
    await chat.text("strict")
    # the local handler runs as a digression, then the question resumes
    assert texts(await chat.text("cancel")) == ["Cannot cancel a code.", "Code?"]
    await chat.text("1")
    # outside that flow the global handler applies
    await chat.text("form")
    assert texts(await chat.text("cancel")) == ["Cancelled."]


async def test_error_handler_and_error_location(tmp_path):
    flows = """\
    flows:
      broken:
        triggers: [{keywords: [go]}]
        steps:
          - say: "before"
          - say: "Hi {{ conv.emial }}"
    """
    bot = "handlers:\n  error: {steps: [{say: 'Oops ({{ sys.error }})'}]}\n"
    chat = chat_for(tmp_path, flows, bot)
    result = await chat.text("go")
    assert result.error == (
        "flows/test/main.yaml:7:9: undefined variable 'conv.emial' (step '~1' in flow 'broken')"
    )
    assert texts(result) == ["before", "Oops (undefined variable 'conv.emial')"]
    assert result.waiting is False and result.conv_state["frames"] == []


async def test_error_without_handler_and_failing_error_handler(tmp_path):
    flows = "flows:\n  b:\n    triggers: [{keywords: [go]}]\n    steps: [{say: '{{ nope }}'}]\n"
    chat = chat_for(tmp_path, flows, "")
    result = await chat.text("go")
    assert "undefined variable 'nope'" in result.error
    assert texts(result) == ["Sorry, something went wrong on my side. Please try again later."]
    bot = "handlers:\n  error: {steps: [{say: '{{ also_nope }}'}]}\n"
    chat = chat_for(tmp_path, flows, bot)
    result = await chat.text("go")
    assert "undefined variable 'also_nope'" in result.trace["error_handler_error"]
    assert texts(result) == ["Sorry, something went wrong on my side. Please try again later."]


async def test_flow_when_guard_filters_trigger_candidates(tmp_path):
    flows = """\
    flows:
      vip:
        when: "user.tier == 'gold'"
        priority: 5
        triggers: [{keywords: [help]}]
        steps: [{say: "VIP help"}]
      normal:
        triggers: [{keywords: [help]}]
        steps: [{say: "Help"}]
    """
    bot = "variables:\n  user.tier: {type: str, persist: true}\n"
    chat = chat_for(tmp_path, flows, bot)
    assert texts(await chat.text("help")) == ["Help"]
    chat.user_vars = {"tier": "gold"}
    assert texts(await chat.text("help")) == ["VIP help"]


async def test_invalid_inbound_event_is_an_error_not_an_exception(tmp_path):
    chat = chat_for(tmp_path)
    result = await chat.send({"type": "nonsense"})
    assert result.error.startswith("invalid inbound event")
    assert result.replies == []
