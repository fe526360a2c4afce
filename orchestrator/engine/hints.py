"""Hints for newcomers, appended to diagnostics: keys and step names from other bot languages
(Rasa's forms and flows above all) pointed at the construct that does the job here."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .diagnostics import did_you_mean

# A key another language has, and what does its job here.
FOREIGN_KEYS: dict[str, str] = {
    "ask_before_filling": "an ask asks even when its variable is set; `skip_if_set: true` skips it",
    "reset_after_flow_finishes": "flow.* variables end with their flow; conv.* ones at `end:`",
    "collect": "a question is an `ask:` step (`ask: {prompt, into, type}`)",
    "utter": "a message is a `say:` step, or `prompt:` of an ask",
    "action": "Python is a `do:` step; an HTTP call an `http:` step",
    "slot": "`ask: {into: conv.x}` stores the answer",
    "slots": "variables are declared under `variables:` in the bot file",
    "required_slots": "one `ask:` step per value, in order",
    "mappings": 'typed asks read the value (`type: int` takes "4 people"); `prefill: true`, '
    "regex groups and extractor filters find values in messages",
    "slot_mappings": "typed asks, `prefill: true`, regex groups and extractor filters",
    "entities": "regex trigger groups land in turn.*; extractor filters find numbers, amounts, dates",
    "intent": "flows start on `triggers:` (examples, keywords, regex, payload, event)",
    "intents": "flows start on `triggers:` (examples, keywords, regex, payload, event)",
    "nlu_trigger": "flows start on `triggers:` (examples, keywords, regex, payload, event)",
    "rejections": "`validate: [{check, invalid}]` on the ask",
    "condition": "`when:` guards a step; `if:`/`switch:` steps branch",
    "if_": "`if:` is a step of its own (`if: …`, `then:`, `else:`)",
    "text": 'a message is a `say:` step (`say: "…"`)',
    "buttons": "buttons belong to a reply: `say: {text, buttons}`, or use a `choose:` step",
    "validation": "`validate: [{check, invalid}]` on the ask",
    "persisted_slots": "`persist: true` on a user.* variable",
}
# A `next:` target that means "stop" elsewhere.
END_WORDS = frozenset({"end", "end_flow", "stop", "done", "finish", "exit", "return"})
END_HINT = (
    "there is no END step: end the flow with a `return:` step (back to the flow that called it) "
    "or end the conversation with `end: resolved`"
)
CONDITIONAL_NEXT = (
    "a conditional next is written with steps: `if: <condition>` with `then:`/`else:` (each a "
    "step id or steps), or `switch:` with one case per condition"
)
STEP_DESCRIPTION = "steps have no description: write a YAML comment (# …) above the step"
_RASA_SLOT = re.compile(r"(?<![{\w$])\{\s*([A-Za-z_]\w*)\s*\}(?!})")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def unknown_key(key: str, vocabulary: Iterable[str], *, where: str = "") -> str:
    """What to add after "unknown key 'x'": the construct that does its job, or the closest
    key (never the same key: a key valid elsewhere is said to be misplaced)."""
    if key in FOREIGN_KEYS:
        return f" (this language has no '{key}': {FOREIGN_KEYS[key]})"
    if key == "description" and where == "step":
        return f" ({STEP_DESCRIPTION})"
    words = set(vocabulary)
    if key in words:
        return f" ('{key}' is a key of other parts of a file, not of this one)"
    return did_you_mean(key, sorted(words - {key}))


def unknown_step(target: str, known: Iterable[str]) -> str:
    """What to add after "unknown step 'x'"."""
    if target.casefold() in END_WORDS and target not in set(known):
        return f" ({END_HINT})"
    return did_you_mean(target, sorted(known))


def rasa_slots(text: str) -> list[str]:
    """The `{slot}` references of a Rasa-style text (sent as they are here)."""
    return [m.group(0) for m in _RASA_SLOT.finditer(_JINJA.sub(" ", text))]
