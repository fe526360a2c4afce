"""load_bot: models, compiled index, and every diagnostic at once, compiler style."""

import json

import pytest

from orchestrator.engine import BotLoadError, bot_file_schema, flow_file_schema, load_bot

from .support import BOT_HEADER, make_bot, write_files

GOOD_FLOWS = """\
flows:
  main:
    triggers: [{keywords: [hi]}]
    steps:
      - say: msg.hello
      - id: ask_email
        ask: {prompt: "Email?", into: conv.email, type: email, on_fail: handoff_to_agent}
      - if: "conv.email"
        then: [{say: "thanks"}]
        else: ask_email
      - id: handoff_to_agent
        handoff: {queue: support}
"""
GOOD_BOT = """\
variables:
  conv.email: {type: email}
messages:
  hello: "Hello!"
"""


def load_errors(tmp_path, flows, bot="", extra=None):
    with pytest.raises(BotLoadError) as info:
        make_bot(tmp_path, flows, bot, extra=extra)
    return info.value


def test_loads_a_bot_into_an_immutable_version(tmp_path):
    bot = make_bot(tmp_path, GOOD_FLOWS, GOOD_BOT)
    assert bot.id == "test" and len(bot.version) == 16
    step = bot.step("main", "ask_email")
    assert step.kind == "ask" and step.explicit_id
    assert (step.pos.file, step.pos.line, step.pos.col) == ("flows/test/main.yaml", 7, 9)
    assert step.branches["on_fail"] == "handoff_to_agent"
    # anonymous steps get generated ids; inline branches are flattened
    assert bot.step("main", "~0").kind == "say"
    assert bot.step("main", "~0").next == "ask_email"
    if_step = bot.step("main", "~2")
    assert if_step.branches == {"then": "~2.then.0", "else": "ask_email"}
    assert bot.step("main", "~2.then.0").next == "handoff_to_agent"
    with pytest.raises(TypeError):
        bot.steps[("main", "x")] = step  # type: ignore[index]


def test_version_hash_changes_with_any_file(tmp_path):
    first = make_bot(tmp_path, GOOD_FLOWS, GOOD_BOT)
    again = load_bot(tmp_path / "bots" / "test.yaml")
    assert again.version == first.version
    (tmp_path / "flows/test/main.yaml").write_text("version: 1\n" + GOOD_FLOWS.replace("thanks", "thank you"))
    assert load_bot(tmp_path / "bots" / "test.yaml").version != first.version


def test_unknown_step_with_did_you_mean_compiler_style(tmp_path):
    flows = GOOD_FLOWS.replace("on_fail: handoff_to_agent", "on_fail: handof_to_agent")
    err = load_errors(tmp_path, flows, GOOD_BOT)
    assert str(err) == (
        "flows/test/main.yaml:8:73: error E201 unknown step 'handof_to_agent' "
        "(did you mean 'handoff_to_agent'?)"
    )


def test_all_problems_at_once_across_files(tmp_path):
    flows = """\
    flows:
      main:
        triggers: [{regex: "(unclosed"}]
        steps:
          - say: msg.helo
          - sya: typo
          - say: "{{ env.SECRET }}"
          - ask: {prompt: x, into: user.nme}
          - say: "{{ conv.email "
          - call: nothere
          - do: create_ticket
          - say: a
            ask: {prompt: b, into: conv.x}
          - goto: nowhere
          - id: w1
            wait: {event: account_linked, timeout: 5 parsecs}
          - id: w
            say: dup
          - id: w
            say: dup
    """
    bot = GOOD_BOT + "  hello: dup\nhandlers:\n  no_match: {flow: fallbak}\n"
    extra = {"flows/test/broken.yaml": "version: 1\nflows: [\n"}
    err = load_errors(tmp_path, flows, bot, extra)
    codes = [(d.file.split("/")[-1], d.line, d.code) for d in err.diagnostics]
    assert codes == [
        ("test.yaml", 10, "E102"),  # messages: hello twice
        ("test.yaml", 12, "E202"),  # unknown handler flow
        ("broken.yaml", 3, "E101"),  # YAML syntax
        ("main.yaml", 4, "E116"),  # bad regex
        ("main.yaml", 6, "E203"),  # unknown message, with did-you-mean
        ("main.yaml", 7, "E113"),  # no action key
        ("main.yaml", 8, "E402"),  # env.* in a reply
        ("main.yaml", 9, "E208"),  # waiting step without id
        ("main.yaml", 9, "E302"),  # user var not persisted
        ("main.yaml", 10, "E401"),  # template syntax
        ("main.yaml", 11, "E202"),  # unknown flow
        ("main.yaml", 13, "E113"),  # two action keys
        ("main.yaml", 15, "E201"),  # unknown step
        ("main.yaml", 17, "E114"),  # bad duration
        ("main.yaml", 20, "E205"),  # duplicate step id
    ]
    text = str(err)
    assert "unknown message 'msg.helo' (did you mean 'hello'?)" in text
    assert "(did you mean 'say'?)" in text
    assert "'user.nme' is not declared with persist: true" in text


def test_schema_errors_unknown_keys_missing_fields_and_strict_booleans(tmp_path):
    flows = """\
    flows:
      main:
        steps:
          - id: a
            ask: {promt: "x", into: conv.a}
          - id: h
            handoff: {check_hours: yes}
          - set: {sys.now: 1}
    """
    err = load_errors(tmp_path, flows)
    got = {(d.line, d.col, d.code): d.message for d in err.diagnostics}
    assert got[(6, 15, "E110")] == "unknown key 'promt' (did you mean 'prompt'?)"
    assert got[(6, 14, "E111")] == "missing required key 'prompt'"
    # `yes` is a string in YAML 1.2, and strict models do not coerce it to a boolean
    assert got[(8, 32, "E112")].startswith("'check_hours':")
    assert got[(9, 15, "E301")].startswith("cannot write 'sys.now'")


def test_version_must_be_1_in_every_file(tmp_path):
    write_files(
        tmp_path,
        {
            "bots/test.yaml": BOT_HEADER.replace("version: 1", "version: 2"),
            "flows/test/main.yaml": "flows: {}\n",
        },
    )
    with pytest.raises(BotLoadError) as info:
        load_bot(tmp_path / "bots" / "test.yaml")
    assert [(d.file, d.code) for d in info.value.diagnostics] == [
        ("bots/test.yaml", "E104"),
        ("flows/test/main.yaml", "E104"),
    ]


def test_params_and_handlers_are_checked(tmp_path):
    flows = """\
    flows:
      main:
        steps: [{call: sub, with: {nam: x}}]
      sub:
        params: {name: {type: str}}
        steps: [{return: "{{ flow.name }}"}]
    """
    bot = "handlers:\n  helpme: {flow: main}\n"
    err = load_errors(tmp_path, flows, bot)
    messages = [d.message for d in err.diagnostics]
    assert any("has no triggers" in m for m in messages)
    assert "flow 'sub' has no param 'nam' (did you mean 'name'?)" in messages
    assert "flow 'sub' needs param 'name'" in messages


def test_unknown_action_against_the_actions_module(tmp_path):
    extra = {
        "bots/acts.py": "from orchestrator.engine import action\n\n"
        "@action\nasync def create_ticket(ctx):\n    return 1\n"
    }
    flows = "flows:\n  main:\n    steps: [{do: create_tiket}]\n"
    err = load_errors(tmp_path, flows, "actions: bots/acts.py\n", extra)
    assert [d.message for d in err.diagnostics] == [
        "unknown action 'create_tiket' (did you mean 'create_ticket'?)"
    ]


def test_glob_without_files_is_a_warning(tmp_path):
    header = BOT_HEADER.replace("flows: [flows/test/*.yaml]", "flows: [flows/test/*.yaml, x/*.yaml]")
    bot = make_bot(tmp_path, "flows:\n  main: {steps: [{say: hi}]}\n", header=header)
    assert [(w.code, w.severity) for w in bot.warnings] == [("W105", "warning")]


def test_json_schemas_are_generated():
    for schema in (bot_file_schema(), flow_file_schema()):
        text = json.dumps(schema)
        assert '"additionalProperties": false' in text
    assert "steps" in json.dumps(flow_file_schema())
    assert "business_hours" in json.dumps(bot_file_schema())


def test_broken_actions_module_is_a_diagnostic(tmp_path):
    extra = {"bots/acts.py": "raise RuntimeError('bad import')\n"}
    flows = "flows:\n  main:\n    steps: [{do: anything}]\n"
    err = load_errors(tmp_path, flows, "actions: bots/acts.py\n", extra)
    [diag] = err.diagnostics
    assert (diag.file, diag.line, diag.code) == ("bots/test.yaml", 6, "E210")
    assert "bad import" in diag.message
