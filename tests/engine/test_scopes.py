"""Scope rules: turn is read-only, user persists only when declared, env never in replies."""

from orchestrator.engine import HttpResponse

from .support import Chat, FakeHttp, make_bot, texts


async def test_env_never_reaches_a_reply(tmp_path):
    # templates in replies are rejected when loading (E402); expressions evaluated while
    # building a reply are guarded at run time
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - say: {cards_from: {items: "[env.SECRET]", as: s, card: {title: "{{ s }}"}}}
    """
    chat = Chat(make_bot(tmp_path, flows), env={"SECRET": "hunter22"})
    result = await chat.text("go")
    assert "env.SECRET cannot be used in a reply" in result.error
    assert "hunter22" not in str(result.replies)
    # render path: env inside a set value is refused too
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - set: {conv.copy: "{{ env.SECRET }}"}
          - say: "{{ conv.copy }}"
    """
    chat = Chat(make_bot(tmp_path, flows), env={"SECRET": "hunter22"})
    result = await chat.text("go")
    assert "env.SECRET cannot be used in a set, with, return or into value" in result.error
    assert "hunter22" not in str(result.replies) and "hunter22" not in str(result.conv_state)


async def test_env_is_readable_in_http_steps_and_conditions(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - {say: "feature on", when: "env.FEATURE == 'on'"}
          - http: {url: "{{ env.API }}/x", into: flow.r}
          - say: "{{ flow.r.status }}"
    """
    http = FakeHttp(HttpResponse(204))
    chat = Chat(make_bot(tmp_path, flows), http=http, env={"FEATURE": "on", "API": "https://a"})
    assert texts(await chat.text("go")) == ["feature on", "204"]
    assert http.calls[0].url == "https://a/x"


async def test_user_variables_persist_only_when_declared(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - set: {user.name: "{{ turn.text | upper }}", conv.tmp: 1}
          - say: "{{ user.name }} {{ user.nickname }}"
    """
    bot = "variables:\n  user.name: {type: str, persist: true}\n  user.nickname: {default: nick}\n"
    chat = Chat(make_bot(tmp_path, flows, bot))
    chat.user_vars = {"name": "old", "unrelated": 1}
    result = await chat.text("go")
    assert texts(result) == ["GO nick"]
    # persisted: the declared persist var; kept: what we do not know about; not: the rest
    assert result.user_vars == {"name": "GO", "unrelated": 1}


async def test_turn_and_sys_scopes(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{payload: "P*"}]
        steps:
          - say: >-
              {{ turn.type }} {{ turn.payload }} {{ sys.channel }} {{ sys.locale }}
              {{ sys.now.strftime('%H:%M') }} {{ sys.today }} {{ sys.handoff.state }}
              {{ sys.conversation_id }} {{ sys.open }}
    """
    chat = Chat(make_bot(tmp_path, flows), channel="webchat", locale="fr")
    assert texts(await chat.click("P1")) == ["payload P1 webchat fr 10:00 2024-06-03 bot c1 True"]


async def test_strict_undefined_names_variable_and_step_position(tmp_path):
    flows = """\
    flows:
      f:
        triggers: [{keywords: [go]}]
        steps:
          - id: hello
            say: "Hello {{ user.nmae }}"
    """
    chat = Chat(make_bot(tmp_path, flows, "variables:\n  user.name: {persist: true}\n"))
    result = await chat.text("go")
    assert result.error == (
        "flows/test/main.yaml:6:9: undefined variable 'user.nmae' (step 'hello' in flow 'f')"
    )
