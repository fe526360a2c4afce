"""Non-waiting steps: set/unset, if, switch, goto, call/return/with/into, start, http, do,
end, and the per-turn step budget."""

from orchestrator.engine import ActionRegistry, HttpError, HttpResponse

from .support import Chat, FakeHttp, make_bot, texts


async def run(tmp_path, flows, bot="", **chat_kw):
    chat = Chat(make_bot(tmp_path, flows, bot), **chat_kw)
    return chat, await chat.text("go")


async def test_set_unset_if_switch_goto(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - set: {conv.n: 1, flow.items: "{{ [1, 2, 3] }}", flow.obj.deep: x}
          - set: {conv.n: "{{ conv.n + flow.items | length }}"}
          - if: "conv.n == 4"
            then: {say: "four"}
            else: [{say: "not four"}]
          - switch:
              - {when: "conv.n < 2", goto: small}
              - {when: "conv.n < 10", steps: [{say: "medium {{ flow.obj.deep }}"}]}
              - else: small
          - unset: [conv.n, flow.obj]
          - say: "{{ conv.n }} {{ flow.obj is defined }}"
          - goto: done
          - id: small
            say: small
          - id: done
            say: done
    """
    bot = "variables:\n  conv.n: {type: int}\n"
    _, result = await run(tmp_path, flows, bot)
    assert result.error is None
    assert texts(result) == ["four", "medium x", "None False", "done"]
    assert {"var": "conv.n", "old": 1, "new": 4} in result.trace["vars"]


async def test_when_guard_skips_a_step(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - {say: "skipped", when: "false"}
          - {say: "shown", when: "sys.channel == 'webchat'"}
    """
    _, result = await run(tmp_path, flows, channel="webchat")
    assert texts(result) == ["shown"]
    [skipped] = [s for s in result.trace["steps"] if s.get("step") == "~0"]
    assert skipped["skipped"] is True and skipped["conditions"] == [{"expr": "false", "value": False}]


async def test_call_with_params_return_into_and_flow_scope_dies_with_frame(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - set: {flow.mine: caller}
          - call: double
            with: {n: 21}
            into: flow.result
          - say: "{{ flow.result }} {{ flow.mine }} {{ flow.local is defined }}"
      double:
        params: {n: {type: int}, unit: {default: "x"}}
        steps:
          - set: {flow.local: "{{ flow.n * 2 }}"}
          - return: "{{ flow.local ~ flow.unit }}"
    """
    _, result = await run(tmp_path, flows)
    assert result.error is None
    # the callee's flow.local is gone once its frame returned; the caller's own var survives
    assert texts(result) == ["42x caller False"]


async def test_flow_variable_of_a_finished_flow_is_undefined_later(tmp_path):
    flows = """\
    flows:
      first:
        triggers: [{keywords: [one]}]
        steps: [{set: {flow.secret: 1}}, {say: "set"}]
      second:
        triggers: [{keywords: [two]}]
        steps: [{say: "{{ flow.secret }}"}]
    """
    chat = Chat(make_bot(tmp_path, flows))
    await chat.text("one")
    result = await chat.text("two")
    assert "undefined variable 'flow.secret'" in result.error


async def test_start_replaces_the_stack(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - call: middle
          - say: "never: the caller was replaced"
      middle:
        steps: [{start: last, with: {who: you}}, {say: never}]
      last:
        params: {who: {}}
        steps: [{say: "hello {{ flow.who }}"}]
    """
    _, result = await run(tmp_path, flows)
    assert texts(result) == ["hello you"]


async def test_end_clears_the_conversation(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps: [{set: {conv.x: 1}}, {say: bye}, {end: abandoned}, {say: never}]
    """
    _, result = await run(tmp_path, flows)
    assert (texts(result), result.ended, result.waiting) == (["bye"], "abandoned", False)
    assert result.conv_state["conv"] == {} and result.conv_state["frames"] == []


HTTP_FLOWS = """\
flows:
  main:
    triggers: [{keywords: [go]}]
    steps:
      - http:
          method: post
          url: "{{ env.API }}/things"
          headers: {Authorization: "Bearer {{ env.TOKEN }}"}
          query: {q: "{{ turn.text }}"}
          json: {n: "{{ 1 + 1 }}", who: "{{ sys.user_id }}"}
          timeout: 3s
          retries: 2
          into: flow.r
          on_error: [{say: "down: {{ flow.r.status }} {{ sys.error }}"}, {return: null}]
      - say: "{{ flow.r.status }} {{ flow.r.json.name if flow.r.json else flow.r.text }}"
"""
ENV = {"API": "https://api.test", "TOKEN": "tok-123456"}


async def test_http_step_builds_the_request_and_stores_the_result(tmp_path):
    http = FakeHttp(HttpResponse(200, {"name": "widget"}, '{"name":"widget"}', {}))
    _, result = await run(tmp_path, HTTP_FLOWS, http=http, env=ENV)
    assert texts(result) == ["200 widget"]
    [req] = http.calls
    assert (req.method, req.url, req.timeout, req.retries) == ("POST", "https://api.test/things", 3.0, 2)
    assert req.headers == {"Authorization": "Bearer tok-123456"}
    assert req.query == {"q": "go"} and req.json == {"n": 2, "who": "u1"}
    # the trace has the call, with secrets masked
    [call] = result.trace["calls"]
    assert call["status"] == 200 and "tok-123456" not in str(result.trace)
    assert call["url"] == "***/things"


async def test_http_404_is_data_but_5xx_and_network_errors_take_on_error(tmp_path):
    http = FakeHttp(HttpResponse(404, None, "nope", {}))
    _, result = await run(tmp_path, HTTP_FLOWS, http=http, env=ENV)
    assert texts(result) == ["404 nope"]
    _, result = await run(tmp_path, HTTP_FLOWS, http=FakeHttp(HttpResponse(503)), env=ENV)
    assert texts(result) == ["down: 503 HTTP 503"]
    _, result = await run(tmp_path, HTTP_FLOWS, http=FakeHttp(HttpError("timeout")), env=ENV)
    assert texts(result) == ["down: 0 timeout"]
    assert result.error is None


async def test_http_failure_without_on_error_runs_the_error_handler(tmp_path):
    flows = HTTP_FLOWS.replace(
        '          on_error: [{say: "down: {{ flow.r.status }} {{ sys.error }}"}, {return: null}]\n',
        "",
    )
    bot = "handlers:\n  error: {steps: [{say: 'Sorry: {{ sys.error }}'}]}\n"
    chat = Chat(make_bot(tmp_path, flows, bot), http=FakeHttp(HttpError("refused")), env=ENV)
    result = await chat.text("go")
    assert result.error.startswith("flows/test/main.yaml:6:9: http POST ***/things failed")
    assert texts(result) == ["Sorry: http POST ***/things failed: refused"]


async def test_do_action_with_into_and_on_error(tmp_path):
    actions = ActionRegistry()
    seen = {}

    @actions.register("lookup")
    async def lookup(ctx, name):
        seen.update(name=name, conv=dict(ctx.conv), env=ctx.env.get("K"), user=ctx.user_id)
        if name == "boom":
            raise RuntimeError("exploded")
        return {"greeting": f"hi {name}"}

    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - do: lookup
            with: {name: "{{ turn.text }}"}
            into: flow.out
            on_error: {say: "failed: {{ sys.error }}", goto: last}
          - say: "{{ flow.out.greeting }}"
          - id: last
            say: end
    """
    chat = Chat(make_bot(tmp_path, flows), actions=actions, env={"K": "v"})
    # `go` triggers the flow; the action gets the rendered `with`
    result = await chat.text("go")
    assert texts(result) == ["hi go", "end"]
    assert seen == {"name": "go", "conv": {}, "env": "v", "user": "u1"}
    (tmp_path / "flows/test/main.yaml").write_text(
        (tmp_path / "flows/test/main.yaml").read_text().replace("turn.text", "'boom'")
    )
    chat.bot = make_bot(tmp_path, (tmp_path / "flows/test/main.yaml").read_text()[11:])
    result = await chat.text("go")
    assert texts(result) == ["failed: exploded", "end"]
    assert result.trace["calls"][0]["error"] == "exploded"


async def test_step_budget_stops_a_loop_and_runs_the_error_handler(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - id: top
            set: {conv.i: "{{ conv.i + 1 }}"}
          - goto: top
    """
    bot = """\
    bot:
      id: test
      limits: {max_steps_per_turn: 20}
    variables:
      conv.i: {type: int, default: 0}
    handlers:
      error: {steps: [{say: "loop stopped at {{ conv.i }}"}]}
    """
    chat = Chat(make_bot(tmp_path, flows, bot, header="version: 1\nflows: [flows/test/*.yaml]\n"))
    result = await chat.text("go")
    assert "step budget exceeded: more than 20 steps" in result.error
    assert result.error.startswith("flows/test/main.yaml:")
    assert texts(result) == ["loop stopped at 10"]
    assert result.conv_state["frames"] == []


async def test_default_budget_is_100(tmp_path):
    flows = "flows:\n  main:\n    triggers: [{keywords: [go]}]\n    steps:\n      - id: a\n        goto: a\n"
    _, result = await run(tmp_path, flows)
    assert "more than 100 steps" in result.error
    assert texts(result) == ["Sorry, something went wrong on my side. Please try again later."]


async def test_declared_types_are_enforced_on_write(tmp_path):
    flows = "flows:\n  main:\n    triggers: [{keywords: [go]}]\n    steps: [{set: {conv.n: abc}}]\n"
    _, result = await run(tmp_path, flows, "variables:\n  conv.n: {type: int}\n")
    assert "'conv.n' is declared int, cannot store 'abc'" in result.error


async def test_templates_cannot_mutate_state(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - set: {flow.items: [1, 2]}
          - say: "{{ flow.items.append(3) }}"
    """
    _, result = await run(tmp_path, flows)
    assert "access to attribute 'append' of 'list' object is unsafe" in result.error


async def test_endless_recursion_is_stopped(tmp_path):
    flows = "flows:\n  main:\n    triggers: [{keywords: [go]}]\n    steps: [{call: main}]\n"
    _, result = await run(tmp_path, flows)
    assert "more than 32 nested flows" in result.error
