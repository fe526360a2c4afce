"""State refers to (flow, step) ids: a new bot version continues where they still exist."""

from .support import Chat, make_bot, texts

V1 = """\
flows:
  form:
    triggers: [{keywords: [form]}]
    steps:
      - id: ask_name
        ask: {prompt: "Name?", into: flow.name}
      - say: "v1 {{ flow.name }}"
"""


async def test_new_version_continues_at_the_same_step_id(tmp_path):
    chat = Chat(make_bot(tmp_path, V1))
    await chat.text("form")
    v2 = V1.replace("v1", "v2").replace(
        "      - id: ask_name", '      - say: "new intro"\n      - id: ask_name'
    )
    chat.bot = make_bot(tmp_path, v2)
    assert chat.state["version"] != chat.bot.version
    result = await chat.text("Ann")
    assert texts(result) == ["v2 Ann"]
    assert result.conv_state["version"] == chat.bot.version


async def test_version_gone_default_restarts_politely(tmp_path):
    chat = Chat(make_bot(tmp_path, V1, "handlers:\n  session_start: {steps: [{say: Hi}]}\n"))
    await chat.text("form")
    chat.bot = make_bot(
        tmp_path,
        V1.replace("ask_name", "ask_full_name"),
        "handlers:\n  session_start: {steps: [{say: Hi}]}\n",
    )
    result = await chat.text("Ann")
    assert texts(result) == [
        "Sorry, I was updated and lost track of our conversation. Let's start again.",
        "Hi",
    ]


async def test_version_gone_handler(tmp_path):
    bot = "handlers:\n  version_gone: {steps: [{say: 'Updated! Start over.'}]}\n"
    chat = Chat(make_bot(tmp_path, V1, bot))
    await chat.text("form")
    chat.bot = make_bot(tmp_path, V1.replace("ask_name", "ask_other"), bot)
    result = await chat.text("Ann")
    assert texts(result) == ["Updated! Start over."] and result.error is None
    assert result.trace["route"] == "version_gone"


async def test_variables_declared_by_a_new_version_get_their_defaults(tmp_path):
    chat = Chat(make_bot(tmp_path, V1))
    await chat.text("form")
    v2 = V1.replace('"v1 {{ flow.name }}"', '"{{ conv.greeting }} {{ flow.name }}"')
    chat.bot = make_bot(tmp_path, v2, "variables:\n  conv.greeting: {default: Hello}\n")
    assert texts(await chat.text("Ann")) == ["Hello Ann"]
