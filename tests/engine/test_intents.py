"""Intents by example (issue 16 item 8): `examples` triggers match by meaning (other words,
word order, accents, typos) with a threshold; `turn.intent` and `turn.did_you_mean` reach the
flow; keywords still win; tests can assert the intent."""

from __future__ import annotations

from orchestrator.engine.intents import IntentModel, similarity

from .support import Chat, make_bot, texts

FLOWS = """\
flows:
  refund:
    triggers: [{examples: [I want a refund, return an item, send it back, money back]}]
    steps:
      - say: "refund {{ turn.intent.name }} {{ turn.intent.score > 0.5 }} '{{ turn.intent.example }}'"
  orders:
    triggers:
      - examples: [has my parcel shipped, when will my package arrive, my delivery is late]
        threshold: 0.6
    steps: [{say: orders}]
  hours:
    triggers: [{keywords: [back]}]
    steps: [{say: "keyword back"}]
  fallback:
    steps:
      - if: "turn.did_you_mean"
        then: {say: "did you mean {{ turn.did_you_mean | map(attribute='name') | join(', ') }}?"}
        else: {say: "no idea"}
"""
BOT = "handlers:\n  no_match: {flow: fallback}\n"


async def test_other_words_typos_accents_and_word_order(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS, BOT))
    assert texts(await chat.text("could I get a refund please")) == ["refund refund True 'I want a refund'"]
    assert texts(await chat.text("I want a refnud")) == ["refund refund True 'I want a refund'"]
    assert texts(await chat.text("Has my PARCEL shipped?")) == ["orders"]
    assert texts(await chat.text("shipped my parcel has")) == ["orders"]
    assert texts(await chat.text("ma livraison est en retard, délivery late")) == ["orders"]


async def test_keywords_win_and_nothing_close_is_no_match(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS, BOT))
    assert texts(await chat.text("send it back")) == ["keyword back"]  # a keyword beats an intent
    assert texts(await chat.text("what's the weather like")) == ["no idea"]


async def test_did_you_mean_below_the_threshold(tmp_path):
    chat = Chat(make_bot(tmp_path, FLOWS, BOT))
    result = await chat.text("is my package late")  # close to orders, under its 0.6
    assert texts(result) == ["did you mean orders?"]
    assert result.trace["did_you_mean"][0]["name"] == "orders"


async def test_the_bot_default_threshold(tmp_path):
    strict = BOT + "matchers: {threshold: 0.95}\n"
    chat = Chat(make_bot(tmp_path, FLOWS, strict))
    assert texts(await chat.text("I want a refund")) == ["refund refund True 'I want a refund'"]
    assert texts(await chat.text("could I get a refund please")) != ["refund refund True 'I want a refund'"]


def test_the_model_scores_between_zero_and_one():
    model = IntentModel([["where is my order"], ["opening hours"]])
    [(order, _), (hours, _)] = model.scores("wher is my ordr")
    assert 0.5 < order <= 1.0 and hours < 0.2
    assert model.scores("") == [(0.0, ""), (0.0, "")]
    assert similarity("Where is my parcel?", "where is my parcel") == 1.0


async def test_the_embeddings_model_behind_the_same_interface(tmp_path):
    """The `embeddings` extra (WordLlama, weights inside its wheel): meaning beyond shared letters."""
    bot = make_bot(tmp_path, FLOWS, BOT + "matchers: {model: embeddings}\n")
    assert next(t for t in bot.triggers if t.kind == "examples").threshold == 0.6
    chat = Chat(bot)
    assert texts(await chat.text("could I get a refund please")) == ["refund refund True 'I want a refund'"]
    assert texts(await chat.text("is my package late")) == ["orders"]
    assert texts(await chat.text("hello there")) == ["no idea"]


def test_without_the_extra_the_checker_says_how_to_install_it(tmp_path, monkeypatch):
    from orchestrator.engine import checker

    monkeypatch.setattr(checker, "embeddings_available", lambda: False)
    make_bot(tmp_path, FLOWS, BOT + "matchers: {model: embeddings}\n")
    result = checker.check_bot(tmp_path / "bots" / "test.yaml", tmp_path)
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.code == "E112" and "pip install '.[embeddings]'" in diag.message


def test_a_test_naming_an_unknown_intent_is_e502(tmp_path):
    from orchestrator.engine.conversation_tests import TestRunner, load_test_file

    bot = make_bot(tmp_path, FLOWS, BOT)
    path = tmp_path / "flows" / "test" / "x.test.yaml"
    path.write_text(
        "version: 1\ntests:\n  - name: t\n    conversation:\n"
        "      - user: hi\n      - expect: {intent: refnd}\n"
    )
    loaded = load_test_file(path, tmp_path)
    [diag] = TestRunner(tmp_path).references(loaded, bot)
    assert (
        diag.code == "E502" and "no examples trigger starts 'refnd' (did you mean 'refund'?)" in diag.message
    )
