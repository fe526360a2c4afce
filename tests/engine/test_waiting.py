"""Waiting steps: the ask ladder, choose, and wait (events and any message)."""

from .support import Chat, make_bot, payloads_of, texts

ASK = """\
flows:
  form:
    triggers: [{keywords: [form]}]
    steps:
      - id: ask_age
        ask:
          prompt: "How old are you?"
          into: conv.age
          type: int
          validate:
            - check: "value >= 18"
              invalid: "You must be 18 (you said {{ value }})."
            - check: "value < 130"
          invalid: "A number, please."
          reprompts: ["Your age in years?", "Just digits, like 42."]
          max_attempts: 4
          on_fail: [{say: "Let's skip that."}, {goto: after}]
      - say: "Age {{ conv.age }} (attempt {{ sys.attempt }})"
      - id: after
        say: done
"""
ASK_BOT = "variables:\n  conv.age: {type: int}\n"


async def test_ask_valid_answer_is_coerced_and_stored(tmp_path):
    chat = Chat(make_bot(tmp_path, ASK, ASK_BOT))
    first = await chat.text("form")
    assert (texts(first), first.waiting) == (["How old are you?"], True)
    result = await chat.text("42")
    assert texts(result) == ["Age 42 (attempt 1)", "done"]
    assert {"var": "conv.age", "old": None, "new": 42} in result.trace["vars"]


async def test_ask_ladder_invalid_instead_of_prompt_then_reprompts_then_on_fail(tmp_path):
    chat = Chat(make_bot(tmp_path, ASK, ASK_BOT))
    await chat.text("form")
    # a failing check sends its own message, instead of (not in addition to) the prompt
    assert texts(await chat.text("12")) == ["You must be 18 (you said 12)."]
    # then the reprompts, in order (a check without its own message falls back to them)
    assert texts(await chat.text("abc")) == ["Just digits, like 42."]
    assert texts(await chat.text("200")) == ["Just digits, like 42."]
    result = await chat.text("still no")
    assert texts(result) == ["Let's skip that.", "done"]
    assert result.waiting is False


async def test_ask_invalid_message_when_no_reprompts(tmp_path):
    flows = ASK.replace('          reprompts: ["Your age in years?", "Just digits, like 42."]\n', "")
    chat = Chat(make_bot(tmp_path, flows, ASK_BOT))
    await chat.text("form")
    assert texts(await chat.text("abc")) == ["A number, please."]
    assert texts(await chat.text("19")) == ["Age 19 (attempt 2)", "done"]


async def test_ask_without_on_fail_continues_with_the_value_unset(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - id: q
            ask: {prompt: "Email?", into: conv.email, type: email, max_attempts: 1}
          - say: "email={{ conv.email }}"
    """
    chat = Chat(make_bot(tmp_path, flows, "variables:\n  conv.email: {type: email}\n"))
    await chat.text("go")
    assert texts(await chat.text("nope")) == ["email=None"]


async def test_skip_if_set_still_validates_the_existing_value(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - id: q
            ask:
              prompt: "Name?"
              into: conv.name
              skip_if_set: true
              validate: [{check: "value | length > 2"}]
          - say: "hi {{ conv.name }}"
          - set: {conv.name: "x"}
    """
    chat = Chat(make_bot(tmp_path, flows, "variables:\n  conv.name: {type: str}\n"))
    assert texts(await chat.text("go")) == ["Name?"]
    assert texts(await chat.text("Alice")) == ["hi Alice"]
    # the flow set conv.name to "x", which fails validation: asked again
    assert texts(await chat.text("go")) == ["Name?"]
    await chat.text("Bob")
    chat.state["conv"]["name"] = "Carol"
    assert texts(await chat.text("go")) == ["hi Carol"]


CHOOSE = """\
flows:
  pick:
    triggers: [{keywords: [pick]}]
    steps:
      - id: color
        choose:
          prompt: "Which color?"
          style: STYLE
          into: conv.color
          options:
            - {title: Red, payload: RED, keywords: [crimson]}
            - {title: Blue, payload: BLUE, set: {conv.note: "cold"}, goto: blue}
            - {title: Secret, payload: SECRET, when: "false"}
          invalid: "Please pick a color."
          max_attempts: 2
          on_fail: [{say: "No color then."}, {return: null}]
      - say: "red it is"
      - return: null
      - id: blue
        say: "blue ({{ conv.note }})"
"""


async def test_choose_buttons_by_payload_title_number_or_keyword(tmp_path):
    bot = make_bot(tmp_path, CHOOSE.replace("STYLE", "buttons"))
    chat = Chat(bot)
    [prompt] = (await chat.text("pick")).replies
    assert prompt["type"] == "buttons" and payloads_of(prompt) == ["RED", "BLUE"]
    assert texts(await chat.click("BLUE")) == ["blue (cold)"]
    assert chat.last.conv_state["conv"]["color"] == "BLUE"
    for answer in ("red", "1", "I like crimson"):
        await chat.text("pick")
        assert texts(await chat.text(answer)) == ["red it is"], answer


async def test_choose_quick_replies_list_and_the_retry_ladder(tmp_path):
    chat = Chat(make_bot(tmp_path, CHOOSE.replace("STYLE", "quick_replies")))
    [prompt] = (await chat.text("pick")).replies
    assert prompt["type"] == "single-choice" and payloads_of(prompt) == ["RED", "BLUE"]
    [retry] = (await chat.text("green")).replies
    # the invalid message replaces the prompt and keeps the options
    assert retry["text"] == "Please pick a color." and payloads_of(retry) == ["RED", "BLUE"]
    assert texts(await chat.text("purple")) == ["No color then."]

    chat = Chat(make_bot(tmp_path, CHOOSE.replace("STYLE", "list")))
    [listed] = (await chat.text("pick")).replies
    assert listed == {"type": "text", "text": "Which color?\n1. Red\n2. Blue"}
    assert texts(await chat.text("2")) == ["blue (cold)"]


async def test_choose_on_other(tmp_path):
    flows = CHOOSE.replace("STYLE", "buttons").replace(
        '          invalid: "Please pick a color."\n',
        '          on_other: {say: "Other: {{ turn.text }}"}\n',
    )
    chat = Chat(make_bot(tmp_path, flows))
    await chat.text("pick")
    assert texts(await chat.text("green")) == ["Other: green", "red it is"]


WAIT = """\
flows:
  link:
    triggers: [{keywords: [link]}]
    steps:
      - say: {account_link: {text: "Log in", url: "https://login"}}
      - id: wait_link
        wait: {event: account_linked, into: flow.data}
      - say: "linked {{ flow.data.account_id }}"
  pause:
    triggers: [{keywords: [pause]}]
    steps:
      - id: anything
        wait: {event: any_message, into: flow.msg}
      - say: "you said {{ flow.msg.text }}"
"""


async def test_wait_for_an_event_ignores_other_events(tmp_path):
    chat = Chat(make_bot(tmp_path, WAIT))
    result = await chat.text("link")
    assert result.replies[0]["type"] == "account_linking" and result.waiting
    ignored = await chat.event("agent_joined")
    assert ignored.replies == [] and ignored.waiting
    assert texts(await chat.event("account_linked", {"account_id": "A1"})) == ["linked A1"]


async def test_wait_any_message(tmp_path):
    chat = Chat(make_bot(tmp_path, WAIT))
    assert (await chat.text("pause")).replies == []
    assert texts(await chat.text("hello")) == ["you said hello"]


async def test_wait_for_event_answers_unrelated_messages_aside(tmp_path):
    chat = Chat(make_bot(tmp_path, WAIT, "handlers:\n  no_match: {steps: [{say: '?'}]}\n"))
    await chat.text("link")
    result = await chat.text("blah")
    assert texts(result) == ["?"] and result.waiting
    assert texts(await chat.event("account_linked", {"account_id": "B2"})) == ["linked B2"]
