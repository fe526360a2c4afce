"""Trigger matching: exact payloads, regexes, keywords (case- and accent-insensitive,
optionally typo-tolerant) and events, ranked by kind, then flow priority, then score."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from .intents import SUGGEST_FLOOR, THRESHOLDS, model_for
from .text import normalise

TriggerKind = Literal["payload", "regex", "keywords", "event", "examples"]
_KIND_RANK = {"payload": 4, "event": 4, "regex": 3, "keywords": 2, "examples": 1}


@lru_cache(maxsize=65_536)  # users repeat the same words; keywords are few
def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (typos incl. swaps), cut off above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def allowed_typos(word: str) -> int:
    """How many typos a keyword token tolerates: none for short words."""
    return 0 if len(word) <= 4 else 1 if len(word) <= 8 else 2


@dataclass(frozen=True, slots=True)
class CompiledTrigger:
    """One trigger of a flow or of a handler, ready to match."""

    kind: TriggerKind
    target: str  # a flow id, or a handler name when `handler` is True
    handler: bool = False
    scope: str | None = None  # the flow that declares a flow-level handler
    always: bool = False
    priority: int = 0
    order: int = 0
    where: str = ""  # file:line:col of the trigger, for traces
    payload: str | None = None
    regex: re.Pattern[str] | None = None
    keywords: tuple[tuple[str, ...], ...] = ()
    fuzzy: bool = False
    event: str | None = None
    examples: tuple[str, ...] = ()
    threshold: float = 0.5
    model: str = "lexical"  # the intent model: lexical or embeddings

    @property
    def label(self) -> str:
        """A short human description, for traces."""
        if self.kind == "examples":
            return f"examples ({len(self.examples)}, threshold {self.threshold:g})"
        if self.kind == "payload":
            return f"payload {self.payload}"
        if self.kind == "regex":
            return f"regex {self.regex.pattern if self.regex else ''}"
        if self.kind == "event":
            return f"event {self.event}"
        return "keywords " + ", ".join(" ".join(k) for k in self.keywords)


def compile_trigger(
    spec: Any,
    *,
    fuzzy_default: bool = False,
    threshold_default: float | None = None,
    model: str = "lexical",
    **fields: Any,
) -> CompiledTrigger:
    """Build a `CompiledTrigger` from a trigger model (see models.Trigger)."""
    if hasattr(spec, "examples"):
        threshold = next(t for t in (spec.threshold, threshold_default, THRESHOLDS[model]) if t is not None)
        return CompiledTrigger(
            "examples", examples=tuple(spec.examples), threshold=threshold, model=model, **fields
        )
    if hasattr(spec, "payload"):
        return CompiledTrigger("payload", payload=spec.payload, **fields)
    if hasattr(spec, "regex"):
        return CompiledTrigger("regex", regex=re.compile(spec.regex), **fields)
    if hasattr(spec, "event"):
        return CompiledTrigger("event", event=spec.event, **fields)
    fuzzy = fuzzy_default if spec.fuzzy is None else spec.fuzzy
    kws = tuple(tuple(normalise(k).split()) for k in spec.keywords if normalise(k))
    return CompiledTrigger("keywords", keywords=kws, fuzzy=fuzzy, **fields)


@dataclass(frozen=True, slots=True)
class Probe:
    """What an input offers to triggers: a payload, an event name, or text."""

    payload: str | None = None
    event: str | None = None
    text: str | None = None
    tokens: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, *, payload: str | None, event: str | None, text: str | None) -> Probe:
        """A probe with the text's normalised tokens."""
        tokens = tuple(normalise(text).split()) if text else ()
        return cls(payload, event, text, tokens)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trigger that matched, with its score."""

    trigger: CompiledTrigger
    score: float
    matched: str
    groups: tuple[tuple[str, str | None], ...] = ()  # a regex's named groups, for turn.*

    def rank(self) -> tuple[int, int, float, int]:
        """Sort key: kind, then priority, then score, then declaration order."""
        kind = _KIND_RANK[self.trigger.kind] - (1 if self.trigger.fuzzy and self.score < 1 else 0)
        return (kind, self.trigger.priority, self.score, -self.trigger.order)

    def describe(self) -> dict[str, Any]:
        """The candidate as it appears in traces."""
        t = self.trigger
        out = {
            "target": t.target,
            "handler": t.handler,
            "trigger": t.label,
            "matched": self.matched,
            "score": round(self.score, 3),
            "priority": t.priority,
            "where": t.where,
        }
        if self.groups:
            out["captured"] = dict(self.groups)
        return out


def _keyword_score(words: tuple[str, ...], tokens: tuple[str, ...], fuzzy: bool) -> float:
    n = len(words)
    best = 0.0
    for start in range(len(tokens) - n + 1):
        window = tokens[start : start + n]
        if window == words:
            return 1.0 + 0.01 * n  # longer exact phrases win
        if fuzzy:
            total = 0
            for w, t in zip(words, window, strict=True):
                limit = allowed_typos(w)
                if w != t and limit == 0:
                    break
                d = 0 if w == t else edit_distance(t, w, limit)
                if d > limit:
                    break
                total += d
            else:
                best = max(best, 0.9 - 0.05 * total + 0.01 * n)
    return best


def match(trigger: CompiledTrigger, probe: Probe) -> Candidate | None:
    """A candidate when `trigger` matches `probe`, else None."""
    if trigger.kind == "payload":
        if probe.payload is None or trigger.payload is None:
            return None
        if trigger.payload.endswith("*"):
            ok = probe.payload.startswith(trigger.payload[:-1])
        else:
            ok = probe.payload == trigger.payload
        return Candidate(trigger, 1.0, probe.payload) if ok else None
    if trigger.kind == "event":
        ok = probe.event is not None and probe.event == trigger.event
        return Candidate(trigger, 1.0, probe.event or "") if ok else None
    if probe.text is None:
        return None
    if trigger.kind == "regex":
        m = trigger.regex.search(probe.text) if trigger.regex else None
        return Candidate(trigger, 1.0, m.group(0), tuple(m.groupdict().items())) if m else None
    if trigger.kind == "examples":
        score, example = model_for((trigger.examples,), trigger.model).scores(probe.text)[0]
        return Candidate(trigger, score, example) if score >= trigger.threshold else None
    best: Candidate | None = None
    for words in trigger.keywords:
        score = _keyword_score(words, probe.tokens, trigger.fuzzy)
        if score and (best is None or score > best.score):
            best = Candidate(trigger, score, " ".join(words))
    return best


class KeywordIndex:
    """The keyword triggers of one trigger list, precompiled: which phrases start with which
    word, and which keyword words each token is (exactly, or within its typo allowance for
    fuzzy triggers). Scoring a probe then touches only the phrases whose words all occur in it,
    and computes typo distances once per distinct token (and only for words of a plausible
    length), instead of once per trigger, phrase and window."""

    __slots__ = ("_by_first", "_fuzzy_words", "_token_hits", "_vocabulary", "triggers")

    _MAX_TOKENS = 16_384  # distinct tokens remembered before the memo starts again

    def __init__(self, triggers: tuple[CompiledTrigger, ...]) -> None:
        self.triggers = triggers  # also keeps the triggers alive while the index is cached
        self._by_first: dict[str, list[tuple[int, int]]] = {}
        vocabulary: set[str] = set()
        fuzzy: set[str] = set()
        for t_index, trigger in enumerate(triggers):
            if trigger.kind != "keywords":
                continue
            for p_index, words in enumerate(trigger.keywords):
                self._by_first.setdefault(words[0], []).append((t_index, p_index))
                vocabulary.update(words)
                if trigger.fuzzy:
                    fuzzy.update(w for w in words if allowed_typos(w))
        self._vocabulary = frozenset(vocabulary)
        self._fuzzy_words = tuple(sorted((w, allowed_typos(w)) for w in fuzzy))
        self._token_hits: dict[str, dict[str, int]] = {}

    def hits(self, token: str) -> dict[str, int]:
        """Keyword word -> typo distance, for every keyword word this token can stand for."""
        found = self._token_hits.get(token)
        if found is not None:
            return found
        found = {token: 0} if token in self._vocabulary else {}
        size = len(token)
        for word, limit in self._fuzzy_words:
            if word != token and abs(len(word) - size) <= limit:
                distance = edit_distance(token, word, limit)
                if distance <= limit:
                    found[word] = distance
        if len(self._token_hits) >= self._MAX_TOKENS:
            self._token_hits.clear()
        self._token_hits[token] = found
        return found

    def scores(self, tokens: tuple[str, ...]) -> dict[int, Candidate]:
        """The best candidate of each matching keyword trigger, by index in `triggers`."""
        at = [self.hits(token) for token in tokens]
        phrases: list[tuple[int, int]] = []
        for position_hits in at:
            for word in position_hits:
                phrases.extend(self._by_first.get(word, ()))
        if not phrases:
            return {}
        best: dict[int, Candidate] = {}
        for t_index, p_index in sorted(set(phrases)):  # phrase order: the first of equals wins
            trigger = self.triggers[t_index]
            words = trigger.keywords[p_index]
            score = _phrase_score(words, at, trigger.fuzzy)
            current = best.get(t_index)
            if score and (current is None or score > current.score):
                best[t_index] = Candidate(trigger, score, " ".join(words))
        return best


def _phrase_score(words: tuple[str, ...], at: list[dict[str, int]], fuzzy: bool) -> float:
    """`_keyword_score` over tokens already resolved to keyword words (see KeywordIndex)."""
    n = len(words)
    best = 0.0
    for start in range(len(at) - n + 1):
        total = 0
        for offset, word in enumerate(words):
            distance = at[start + offset].get(word)
            if distance is None or (distance and not fuzzy):
                break
            total += distance
        else:
            if total == 0:
                return 1.0 + 0.01 * n
            best = max(best, 0.9 - 0.05 * total + 0.01 * n)
    return best


class TriggerIndex:
    """One trigger list, precompiled for `rank`: its keyword index, its `examples` triggers
    (scored together by one intent model) and the positions of its other triggers by kind, so a
    probe only tries the triggers that can match what it offers."""

    __slots__ = ("examples", "keywords", "kinds", "triggers")

    def __init__(self, triggers: tuple[CompiledTrigger, ...]) -> None:
        self.triggers = triggers
        self.keywords = KeywordIndex(triggers)
        self.examples = tuple(i for i, t in enumerate(triggers) if t.kind == "examples")
        self.kinds = {
            kind: tuple(i for i, t in enumerate(triggers) if t.kind == kind)
            for kind in ("payload", "event", "regex")
        }

    def intent_scores(self, text: str) -> list[tuple[int, tuple[float, str]]]:
        """(index, (score, closest example)) of each `examples` trigger."""
        if not self.examples:
            return []
        triggers = self.triggers
        lists = tuple(triggers[i].examples for i in self.examples)
        scores = model_for(lists, triggers[self.examples[0]].model).scores(text)
        return list(zip(self.examples, scores, strict=True))

    def rank(self, probe: Probe) -> list[Candidate]:
        """See `rank`."""
        triggers = self.triggers
        hits: dict[int, Candidate] = {}
        if probe.text is not None:
            hits.update(self.keywords.scores(probe.tokens))
        intents = dict(self.intent_scores(probe.text)) if probe.text is not None else {}
        for i in self.examples:
            score, example = intents.get(i, (0.0, ""))
            if score >= triggers[i].threshold:
                hits[i] = Candidate(triggers[i], score, example)
        for kind, offered in (("payload", probe.payload), ("event", probe.event), ("regex", probe.text)):
            if offered is not None:  # a trigger of this kind matches nothing else
                for i in self.kinds[kind]:
                    if (c := match(triggers[i], probe)) is not None:
                        hits[i] = c
        found = [hits[i] for i in sorted(hits)]  # listing order, then a stable sort
        found.sort(key=Candidate.rank, reverse=True)
        return found


_INDEXES: dict[tuple[int, ...], TriggerIndex] = {}
_MAX_INDEXES = 256  # distinct trigger lists (handler scopes x bot versions) kept compiled


def trigger_index(triggers: tuple[CompiledTrigger, ...]) -> TriggerIndex:
    """The index of this exact list of triggers, compiled on first use. Keyed by the triggers'
    ids: the cached index holds the triggers, so no id can be reused while its key lives."""
    key = tuple(map(id, triggers))
    index = _INDEXES.get(key)
    if index is None:
        if len(_INDEXES) >= _MAX_INDEXES:
            _INDEXES.pop(next(iter(_INDEXES)))
        index = _INDEXES[key] = TriggerIndex(triggers)
    return index


def keyword_index(triggers: tuple[CompiledTrigger, ...]) -> KeywordIndex:
    """The keyword index of this exact list of triggers (see `trigger_index`)."""
    return trigger_index(triggers).keywords


def capture_names(triggers: Iterable[CompiledTrigger]) -> tuple[str, ...]:
    """The named groups of the regex triggers, sorted: each is a `turn.<name>` value."""
    names = {n for t in triggers if t.kind == "regex" and t.regex for n in t.regex.groupindex}
    return tuple(sorted(names))


def rank(triggers: Iterable[CompiledTrigger], probe: Probe) -> list[Candidate]:
    """All matching candidates, best first (the same result as `match` on each trigger)."""
    return trigger_index(tuple(triggers)).rank(probe)


def intent_scores(triggers: tuple[CompiledTrigger, ...], probe: Probe) -> list[tuple[int, tuple[float, str]]]:
    """(index, (score, closest example)) of each `examples` trigger, for a text probe."""
    return trigger_index(triggers).intent_scores(probe.text) if probe.text is not None else []


def suggestions(triggers: Iterable[CompiledTrigger], probe: Probe, limit: int = 3) -> list[Candidate]:
    """`examples` triggers a text came close to without reaching their threshold, best first:
    what a flow can offer as "did you mean"."""
    listed = tuple(triggers)
    near = [
        Candidate(listed[i], score, example)
        for i, (score, example) in intent_scores(listed, probe)
        if SUGGEST_FLOOR * listed[i].threshold <= score < listed[i].threshold
    ]
    near.sort(key=lambda c: c.score, reverse=True)
    unique: dict[str, Candidate] = {}
    for c in near:
        unique.setdefault(c.trigger.target, c)
    return list(unique.values())[:limit]
