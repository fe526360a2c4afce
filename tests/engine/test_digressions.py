"""`triggers_first`: a trigger the text matches wins over a free-text answer, per ask or per
flow, and the question is asked again once the digression ends."""

from .support import Chat, make_bot, texts

FLOWS = """\
flows:
  transfer:
    triggers: [{keywords: [transfer]}]
    triggers_first: FLOW_FIRST
    steps:
      - id: who
        ask: {prompt: "Who?", into: conv.who ASK_FIRST}
      - say: "To {{ conv.who }}."
  balance:
    triggers: [{keywords: [balance]}, {regex: '(?i)^bal\\b'}]
    steps: [{say: "You have 10."}]
"""


def chat_for(tmp_path, *, flow_first: str = "false", ask_first: str = "") -> Chat:
    return Chat(make_bot(tmp_path, FLOWS.replace("FLOW_FIRST", flow_first).replace("ASK_FIRST", ask_first)))


async def test_without_triggers_first_a_free_text_ask_takes_the_trigger_text_as_its_answer(tmp_path):
    chat = chat_for(tmp_path)
    await chat.text("transfer")
    result = await chat.text("what is my balance")
    assert texts(result) == ["To what is my balance."]


async def test_flow_level_triggers_first_runs_the_digression_then_asks_again(tmp_path):
    chat = chat_for(tmp_path, flow_first="true")
    await chat.text("transfer")
    result = await chat.text("what is my balance")
    assert texts(result) == ["You have 10.", "Who?"]
    assert result.trace["route"] == "interruption → balance"
    assert result.trace["winner"]["reason"] == "trigger before the answer (triggers_first)"
    assert texts(await chat.text("bal please")) == ["You have 10.", "Who?"]  # a regex trigger
    assert texts(await chat.text("Joe")) == ["To Joe."]


async def test_the_ask_overrides_its_flow(tmp_path):
    chat = chat_for(tmp_path, flow_first="true", ask_first=", triggers_first: false")
    await chat.text("transfer")
    assert texts(await chat.text("balance")) == ["To balance."]
    chat = chat_for(tmp_path, flow_first="false", ask_first=", triggers_first: true")
    await chat.text("transfer")
    assert texts(await chat.text("balance")) == ["You have 10.", "Who?"]


async def test_the_running_flow_own_trigger_is_an_answer(tmp_path):
    chat = chat_for(tmp_path, flow_first="true")
    await chat.text("transfer")
    assert texts(await chat.text("transfer")) == ["To transfer."]
