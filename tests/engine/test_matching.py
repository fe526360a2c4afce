"""Trigger matching: normalisation, keywords, fuzzy, regex, payloads, ranking."""

import re

from orchestrator.engine.matching import (
    CompiledTrigger,
    Probe,
    edit_distance,
    normalise,
    rank,
)


def kw(target, *phrases, fuzzy=False, priority=0, order=0):
    words = tuple(tuple(normalise(p).split()) for p in phrases)
    return CompiledTrigger("keywords", target, keywords=words, fuzzy=fuzzy, priority=priority, order=order)


def text(s):
    return Probe.of(payload=None, event=None, text=s)


def test_normalise_is_case_and_accent_insensitive():
    assert normalise("  Où est MA Commande?! ") == "ou est ma commande"
    assert normalise("Rémboursement") == "remboursement"


def test_keywords_match_whole_words_only():
    t = kw("hours", "opening hours")
    assert rank([t], text("What are your OPENING hours?"))
    assert not rank([t], text("opening"))
    assert not rank([kw("x", "hi")], text("this is it"))


def test_fuzzy_keywords_tolerate_typos_but_not_on_short_words():
    t = kw("ship", "shipping", fuzzy=True)
    assert rank([t], text("shiping costs"))
    assert rank([t], text("shpiping"))  # a swap
    assert not rank([kw("ship", "shipping")], text("shiping"))
    assert not rank([kw("hi", "hi", fuzzy=True)], text("ho"))
    assert not rank([kw("cost", "cost", fuzzy=True)], text("post"))  # 4 letters: exact only
    assert edit_distance("kitten", "sitting", 5) == 3


def test_ranking_payload_beats_regex_beats_keywords_then_priority():
    payload = CompiledTrigger("payload", "p", payload="MENU")
    prefix = CompiledTrigger("payload", "plan", payload="PLAN:*")
    regex = CompiledTrigger("regex", "r", regex=re.compile(r"(?i)order"))
    low = kw("low", "order", priority=0, order=1)
    high = kw("high", "order", priority=5, order=2)
    assert [c.trigger.target for c in rank([low, high, regex], text("my order"))] == ["r", "high", "low"]
    click = Probe.of(payload="PLAN:pro", event=None, text=None)
    assert [c.trigger.target for c in rank([payload, prefix, low], click)] == ["plan"]


def test_exact_beats_fuzzy_and_longer_phrases_win():
    exact = kw("exact", "refund", order=2)
    fuzzy = kw("fuzzy", "refunt", fuzzy=True, order=1)
    assert rank([fuzzy, exact], text("refund please"))[0].trigger.target == "exact"
    longer = kw("long", "order status", order=2)
    shorter = kw("short", "order", order=1)
    assert rank([shorter, longer], text("order status"))[0].trigger.target == "long"


def test_event_triggers():
    t = CompiledTrigger("event", "linked", event="account_linked")
    assert rank([t], Probe.of(payload=None, event="account_linked", text=None))
    assert not rank([t], text("account_linked"))


def test_the_keyword_index_ranks_exactly_like_matching_each_trigger():
    """`rank` scores keywords through a precompiled index; it must agree with `match` run on
    every trigger (the plain definition) for phrases, typos, swaps and repeats."""
    import random

    from orchestrator.engine.matching import match

    rng = random.Random(15)
    words = ["opening", "hours", "shipping", "refund", "order", "status", "hi", "cost", "password", "reset"]
    triggers = [
        kw("hours", "opening hours", "hours", fuzzy=True, order=1),
        kw("ship", "shipping", "shipping cost", fuzzy=True, order=2),
        kw("refund", "refund", "money back", order=3),
        kw("status", "order status", "order", fuzzy=True, priority=2, order=4),
        kw("hi", "hi", order=5),
        kw("reset", "password reset", "reset password", fuzzy=True, order=6),
        CompiledTrigger("regex", "re", regex=re.compile(r"(?i)cost"), order=7),
        kw("orders", "order", "shipping", order=8),  # words shared with fuzzy triggers, exact here
    ]

    def typo(word):
        i = rng.randrange(len(word))
        return rng.choice(
            [word[:i] + word[i + 1 :], word[:i] + "x" + word[i:], word[:i] + "z" + word[i + 1 :]]
        )

    for _ in range(600):
        said = [rng.choice(words) for _ in range(rng.randint(0, 5))]
        said = [typo(w) if rng.random() < 0.3 else w for w in said]
        probe = text(" ".join(said))
        expected = [c for t in triggers if (c := match(t, probe)) is not None]
        expected.sort(key=lambda c: c.rank(), reverse=True)
        assert [c.describe() for c in rank(triggers, probe)] == [c.describe() for c in expected], said


def test_typo_limits_at_their_edges():
    """Issue 9 item 14: 4 letters exact, 5-8 letters one typo, 9 and more two, and no more."""
    from orchestrator.engine.matching import allowed_typos, match

    assert [allowed_typos("x" * n) for n in (4, 5, 8, 9)] == [0, 1, 1, 2]
    cases = [  # (keyword, typed, matches?)
        ("cost", "cots", False),  # 4 letters: exact only
        ("price", "prise", True),  # 5 letters: one typo
        ("price", "prcie", True),  # one swap
        ("price", "prxxe", False),
        ("delivery", "delivry", True),  # 8 letters: one (a deletion)
        ("delivery", "delvry", False),
        ("password", "passwrd", True),
        ("passwords", "pasword", True),  # 9 letters: two
        ("passwords", "paswod", False),  # three
    ]
    for keyword, typed, expected in cases:
        trigger = kw("t", keyword, fuzzy=True)
        assert bool(rank([trigger], text(typed))) is expected, (keyword, typed)
        assert bool(match(trigger, text(typed))) is expected, (keyword, typed)


def test_edit_distance_cut_offs_are_exact():
    assert edit_distance("abcd", "abcde", 1) == 1  # a length difference equal to the limit
    assert edit_distance("abcd", "abcdef", 1) == 2  # beyond: limit + 1 at once
    assert edit_distance("abcdef", "abxdef", 1) == 1  # a row whose best equals the limit
    assert edit_distance("form", "from", 1) == 1 and edit_distance("ab", "ba", 2) == 1  # swaps
    assert edit_distance("abcdef", "badcfe", 2) == 3  # three swaps: over the limit
    assert edit_distance("aaa", "a", 2) == 2  # no swap with the column before the first


def test_among_equal_phrases_the_first_declared_is_the_match():
    trigger = kw("t", "order", "status")
    for ranked in (
        rank([trigger], text("order status")),
        [m for m in [_match(trigger, "order status")] if m],
    ):
        assert ranked[0].matched == "order" and ranked[0].score == 1.01
    fuzzy = kw("f", "shipping", "shopping", fuzzy=True)  # "shipxing" is one typo from both
    assert rank([fuzzy], text("shipxing"))[0].matched == "shipping"
    assert _match(fuzzy, "shipxing").matched == "shipping"


def _match(trigger, typed):
    from orchestrator.engine.matching import match

    return match(trigger, text(typed))


def test_triggers_that_must_not_fire():
    linked = CompiledTrigger("event", "linked", event="account_linked")
    assert not rank([linked], Probe.of(payload=None, event="agent_joined", text=None))
    assert not rank([linked], Probe.of(payload="account_linked", event=None, text=None))
    menu = CompiledTrigger("payload", "menu", payload="MENU")
    assert not rank([menu], Probe.of(payload="MENU_FAQ", event=None, text=None))  # no prefix without *
    assert not rank([menu], Probe.of(payload=None, event="MENU", text="MENU"))


def test_an_exact_hit_of_a_fuzzy_trigger_is_not_demoted():
    fuzzy = kw("fuzzy", "refund", fuzzy=True, order=1)
    plain = kw("plain", "refund", order=2)
    assert [c.trigger.target for c in rank([plain, fuzzy], text("refund"))] == ["fuzzy", "plain"]
    assert [c.trigger.target for c in rank([plain, fuzzy], text("refnud"))] == ["fuzzy"]


def test_traces_name_the_trigger():
    click = Probe.of(payload="MENU", event=None, text=None)
    [candidate] = rank([CompiledTrigger("payload", "menu", payload="MENU")], click)
    assert candidate.describe()["trigger"] == "payload MENU" and candidate.describe()["matched"] == "MENU"


def test_one_letter_against_a_double_letter():
    assert edit_distance("s", "ss", 1) == 1 and edit_distance("ss", "s", 1) == 1


def test_rank_tries_only_what_a_probe_offers_and_agrees_with_match():
    """`rank` skips payload triggers for a text (and so on) through its precompiled index: the
    same candidates as `match` on every trigger, for payloads, events and texts."""
    from orchestrator.engine.matching import match

    triggers = [
        CompiledTrigger("payload", "menu", payload="MENU", order=1),
        CompiledTrigger("payload", "plan", payload="PLAN:*", order=2),
        CompiledTrigger("event", "linked", event="account_linked", order=3),
        CompiledTrigger("regex", "cancel", regex=re.compile(r"(?i)^cancel$"), order=4),
        CompiledTrigger("regex", "menu2", regex=re.compile(r"(?i)menu"), order=5),
        kw("menu3", "menu", order=6),
        kw("plan2", "plan", fuzzy=True, order=7),
    ]
    probes = [
        Probe.of(payload="MENU", event=None, text=None),
        Probe.of(payload="PLAN:pro", event=None, text=None),
        Probe.of(payload=None, event="account_linked", text=None),
        Probe.of(payload=None, event=None, text="cancel"),
        Probe.of(payload=None, event=None, text="the menu plan please"),
        Probe.of(payload="MENU", event=None, text="menu"),
        Probe.of(payload=None, event=None, text=""),
    ]
    for probe in probes:
        expected = [c for t in triggers if (c := match(t, probe)) is not None]
        expected.sort(key=lambda c: c.rank(), reverse=True)
        assert [c.describe() for c in rank(triggers, probe)] == [c.describe() for c in expected], probe
    # an intent with threshold 0 matches anything, even a payload (as it always did)
    anything = CompiledTrigger("examples", "any", examples=("hello there",), threshold=0.0)
    assert [(c.trigger.target, c.score) for c in rank([anything], probes[0])] == [("any", 0.0)]
