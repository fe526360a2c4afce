"""Intents by example (issue 16 item 8): `examples` triggers match by meaning (other words,
word order, accents, typos) with a threshold; `turn.intent` and `turn.did_you_mean` reach the
flow; keywords still win; tests can assert the intent."""

from __future__ import annotations

import math
from collections import Counter

from orchestrator.engine.intents import IntentModel, features, similarity
from orchestrator.engine.text import normalise

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


def _reference_scores(model: IntentModel, text: str) -> list[tuple[float, str]]:
    """The plain computation the index replaces: n-grams counted one by one, and the cosine of
    the message against every example, summed over the smaller vector."""
    counted: Counter[str] = Counter()
    for word in normalise(text).split():
        counted["w:" + word] += 1
        padded = f" {word} "
        for n in (2, 3, 4):
            for i in range(len(padded) - n + 1):
                counted[padded[i : i + n]] += 1
    vec = {t: (1 + math.log(c)) * model.idf.get(t, 1.0) for t, c in counted.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    query = {t: v / norm for t, v in vec.items()}
    best: list[tuple[float, str]] = [(0.0, "")] * model.size
    for i, example, example_vec in model.examples:
        small, large = (query, example_vec) if len(query) < len(example_vec) else (example_vec, query)
        score = sum(w * large.get(t, 0.0) for t, w in small.items())
        if score > best[i][0]:
            best[i] = (score, example)
    return best


def test_the_index_gives_the_reference_scores_exactly():
    lists = [
        ["I want a refund", "return an item", "send it back", "money back", "rembourser ma commande"],
        ["has my parcel shipped", "when will my package arrive", "my delivery is late"],
        ["opening hours", "when are you open", "horaires d'ouverture"],
        ["aaaa aaaa aaaa bbbb", "a"],  # repeated words and n-grams, a one-letter word
    ]
    model = IntentModel(lists)
    texts_ = [
        "what are your opening hours?",
        "I want a refnud",
        "Has my PARCEL shipped?",
        "ma livraison est en retard, délivery late",
        "HORAIRES D'OUVERTURE ?!",
        "aaaa aaaa aaaa aaaa aaaa",
        "a",
        "",
        "   ",
        "zzz qqq",
        "when when when will will my my package arrive arrive",
        "late " * 40,  # a count beyond the precomputed 1 + log(count) table
        "rembourser ma commande s'il vous plaît, déjà payée",
    ]
    for text in texts_:
        assert model.scores(text) == _reference_scores(model, text), text
    assert model.scores("I want a refund")[0] == _reference_scores(model, "I want a refund")[0]
    assert features("déjà vu Déjà") == Counter(
        {
            "w:deja": 2,
            " d": 2,
            "de": 2,
            "ej": 2,
            "ja": 2,
            "a ": 2,
            " de": 2,
            "dej": 2,
            "eja": 2,
            "ja ": 2,
            " dej": 2,
            "deja": 2,
            "eja ": 2,
            "w:vu": 1,
            " v": 1,
            "vu": 1,
            "u ": 1,
            " vu": 1,
            "vu ": 1,
            " vu ": 1,
        }
    )
