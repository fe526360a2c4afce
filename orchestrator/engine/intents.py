"""Intents by example: a trigger's `examples` match a message by meaning, not only by keyword.

The model is lexical and pure Python: each text becomes a TF-IDF weighted bag of character
n-grams (2 to 4 letters, inside words, accents and case removed) plus whole words, and a message
scores the cosine similarity of its best example. Typos change a few n-grams, not the whole
word; word order does not matter; accents and case are gone before anything else. Scores run
from 0 to 1; a trigger matches at its `threshold` (default: the bot's `matchers.threshold`).

`IntentModel` is that model; `EmbeddingModel` (the `embeddings` extra, `matchers.model:
embeddings`) has the same interface on sentence embeddings: built from the example lists,
`scores(text)` gives the best (score, example) per list.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, repeat
from operator import mul, truediv
from pathlib import Path
from typing import Any

from .text import normalise

THRESHOLDS = {"lexical": 0.5, "embeddings": 0.6}  # the default threshold of each model
SUGGEST_FLOOR = 0.6  # a "did you mean" is offered from this share of the threshold
_MAX_MODELS = 64


def features(text: str) -> Counter[str]:
    """The character n-grams and words of a text (normalised: no case, accents or punctuation)."""
    return Counter(_grams(normalise(text)))


def _grams(normalised: str) -> list[str]:
    """Each word's `w:word` then its n-grams, in order: `Counter` counts the list in C, with
    the same key order as counting one by one."""
    return list(chain.from_iterable(map(_word_grams, normalised.split())))


@lru_cache(maxsize=8192)  # per word, not per message: people reuse words, rarely whole messages
def _word_grams(word: str) -> tuple[str, ...]:
    """`w:word`, then the word's n-grams of 2, 3 and 4 letters (padded with spaces)."""
    padded = f" {word} "
    return ("w:" + word, *map(padded.__getitem__, _slices(len(padded))))  # sliced in C


@lru_cache(maxsize=64)
def _slices(size: int) -> tuple[slice, ...]:
    """The slices of every 2-, 3- then 4-gram of a padded word of `size` letters."""
    return tuple(slice(i, i + n) for n in (2, 3, 4) for i in range(size - n + 1))


_TF = [0.0] + [1 + math.log(c) for c in range(1, 33)]  # 1 + log(count), for the common counts


def _tf(count: int) -> float:
    return _TF[count] if count < len(_TF) else 1 + math.log(count)


class IntentModel:
    """TF-IDF vectors of every example; cosine similarity of a message to each.

    Scoring walks an inverted index (term -> the examples that have it) from the message's
    terms, so only the terms a message shares with an example are multiplied. The products are
    summed in the order the plain cosine (`_reference_scores` in the tests) sums them, over the
    smaller of the two vectors, so the scores are the same floats."""

    def __init__(self, example_lists: Sequence[Sequence[str]]) -> None:
        docs = [(i, text, features(text)) for i, examples in enumerate(example_lists) for text in examples]
        df: Counter[str] = Counter()
        for _, _, f in docs:
            df.update(f.keys())
        total = len(docs) or 1
        self.idf = {term: math.log((1 + total) / (1 + n)) + 1.0 for term, n in df.items()}
        self.examples = [(i, text, self.vector(f)) for i, text, f in docs]
        self.size = len(example_lists)
        # term -> [(example number, weight, position of the term in the example's vector)]
        self.postings: dict[str, list[tuple[int, float, int]]] = {}
        for number, (_, _, vec) in enumerate(self.examples):
            for position, (term, weight) in enumerate(vec.items()):
                self.postings.setdefault(term, []).append((number, weight, position))

    def weights(self, feats: Counter[str]) -> tuple[list[float], float]:
        """The tf-idf weight of each term (in `feats` order) and the norm that makes them a
        unit vector; computed in C with the plain operations, in the same order."""
        counts, idf = feats.values(), self.idf
        try:
            raw = list(map(mul, map(_TF.__getitem__, counts), map(idf.get, feats, repeat(1.0))))  # tf * idf
        except IndexError:  # a term repeated more often than _TF covers
            raw = list(map(mul, map(_tf, counts), map(idf.get, feats, repeat(1.0))))
        return raw, math.sqrt(sum(map(mul, raw, raw))) or 1.0

    def vector(self, feats: Counter[str]) -> dict[str, float]:
        """A unit-length weighted vector (a term no example has weighs little: a typo's n-grams)."""
        raw, norm = self.weights(feats)
        return dict(zip(feats, map(truediv, raw, repeat(norm)), strict=False))  # repeat: endless

    def scores(self, text: str) -> list[tuple[float, str]]:
        """For each example list, the best (cosine score, example)."""
        feats = features(text)
        raw, norm = self.weights(feats)  # `vector(feats)`, divided only where an example shares a term
        # example -> (position of the term in the example, product)
        shared: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
        for found, value in zip(map(self.postings.get, feats), raw, strict=True):
            if found is not None:
                weight = value / norm
                for number, w, position in found:
                    shared[number].append((position, weight * w))
        best: list[tuple[float, str]] = [(0.0, "")] * self.size
        size, examples = len(raw), self.examples
        for number in sorted(shared):  # example order: the first of equal scores wins
            i, example, vec = examples[number]
            products = shared[number]
            if size >= len(vec):  # the plain cosine sums over the example's terms, in its order
                products.sort()
            score = sum([p for _, p in products])
            if score > best[i][0]:
                best[i] = (score, example)
        return best


class EmbeddingModel:
    """The same interface on sentence embeddings: WordLlama's 256-dimension model, whose weights
    and tokenizer ship inside its wheel (the `embeddings` extra), loaded without any download."""

    _encoder: Any = None

    def __init__(self, example_lists: Sequence[Sequence[str]]) -> None:
        self.size = len(example_lists)
        self.owners = [i for i, examples in enumerate(example_lists) for _ in examples]
        self.texts = [text for examples in example_lists for text in examples]
        self.matrix = self.encoder().embed(self.texts, norm=True) if self.texts else None

    @classmethod
    def encoder(cls) -> Any:
        """The WordLlama model, loaded once per process from the package's own files."""
        if cls._encoder is None:
            try:
                import wordllama
            except ImportError:
                raise RuntimeError(
                    "matchers.model: embeddings needs the embeddings extra (pip install '.[embeddings]')"
                ) from None
            package = Path(wordllama.__file__).parent
            cls._encoder = wordllama.WordLlama.load(cache_dir=package, disable_download=True)
        return cls._encoder

    def scores(self, text: str) -> list[tuple[float, str]]:
        """For each example list, the best (cosine score, example), clipped to 0-1."""
        best: list[tuple[float, str]] = [(0.0, "")] * self.size
        if self.matrix is None or not text.strip():
            return best
        sims = self.matrix @ self.encoder().embed([text], norm=True)[0]
        for owner, example, sim in zip(self.owners, self.texts, sims, strict=True):
            score = max(0.0, min(1.0, float(sim)))
            if score > best[owner][0]:
                best[owner] = (score, example)
        return best


def embeddings_available() -> bool:
    """Whether the embeddings extra is installed."""
    import importlib.util

    return importlib.util.find_spec("wordllama") is not None


_MODELS: dict[tuple[str, tuple[tuple[str, ...], ...]], IntentModel | EmbeddingModel] = {}


def model_for(
    example_lists: tuple[tuple[str, ...], ...], kind: str = "lexical"
) -> IntentModel | EmbeddingModel:
    """The model of these example lists, built once (a bot version's lists do not change)."""
    key = (kind, example_lists)
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.pop(next(iter(_MODELS)))
        model = _MODELS[key] = (EmbeddingModel if kind == "embeddings" else IntentModel)(example_lists)
    return model


@lru_cache(maxsize=1024)
def similarity(a: str, b: str) -> float:
    """How alike two examples are (for the checker's overlap warning), with idf weights of 1."""
    fa, fb = features(a), features(b)
    dot = sum(min(fa[t], fb[t]) for t in fa.keys() & fb.keys())
    na, nb = math.sqrt(sum(v * v for v in fa.values())), math.sqrt(sum(v * v for v in fb.values()))
    return dot / (na * nb) if na and nb else 0.0
