"""Replies compile to canonical payloads (all validated by payloads.outbound_adapter)."""

import json
import textwrap

from orchestrator.payloads import outbound_adapter

from .support import Chat, make_bot


async def say(tmp_path, reply_yaml, bot=""):
    flows = "flows:\n  main:\n    triggers: [{keywords: [go]}]\n    steps:\n      - say:\n"
    lines = textwrap.dedent(reply_yaml).strip().splitlines()
    flows += "".join(f"          {line}\n" for line in lines)
    chat = Chat(make_bot(tmp_path, flows, bot))
    result = await chat.text("go")
    assert result.error is None, result.error
    for r in result.replies:  # the dicts built without pydantic are what pydantic builds, key order too
        assert json.dumps(outbound_adapter.validate_python(r).to_dict()) == json.dumps(r)
    return result.replies


async def test_text_buttons_and_quick_replies(tmp_path):
    [msg] = await say(
        tmp_path,
        """
        text: "Pick one"
        buttons:
          - {title: Help, payload: HELP}
          - {title: Site, url: "https://example.com"}
          - {title: Call, phone: "+3312"}
        quick_replies: [{title: Agent, payload: HANDOFF}]
    """,
    )
    assert msg["type"] == "buttons" and msg["text"] == "Pick one"
    assert [(b["type"], b["payload"]) for b in msg["buttons"]] == [
        ("postback", {"payload": "HELP"}),
        ("link", {"url": "https://example.com"}),
        ("phone", {"phone": "+3312"}),
    ]
    assert msg["buttons"][0]["label"] == "Help"
    assert msg["quick_replies"] == [{"title": "Agent", "value": "HANDOFF"}]


async def test_quick_replies_alone_are_a_single_choice(tmp_path):
    [msg] = await say(tmp_path, 'text: "Sure?"\nquick_replies: [{title: Yes, payload: Y}]')
    assert msg == {"type": "single-choice", "text": "Sure?", "choices": [{"title": "Yes", "value": "Y"}]}


async def test_one_card_is_a_card_several_a_carousel(tmp_path):
    one = await say(
        tmp_path,
        """
        cards:
          - {title: Pro, subtitle: "19 EUR", image: "https://x/p.png",
             buttons: [{title: Choose, payload: "PLAN:pro"}, {title: Info, url: "https://x"}]}
    """,
    )
    assert one == [
        {
            "type": "card",
            "title": "Pro",
            "subtitle": "19 EUR",
            "image": "https://x/p.png",
            "actions": [
                {"action": "Postback", "title": "Choose", "payload": "PLAN:pro"},
                {"action": "Open URL", "title": "Info", "url": "https://x"},
            ],
        }
    ]
    several = await say(tmp_path, "cards: [{title: A}, {title: B, buttons: [{title: C, phone: '1'}]}]")
    assert several[0]["type"] == "carousel" and len(several[0]["items"]) == 2
    assert several[0]["items"][1]["actions"][0]["url"] == "tel:1"


async def test_cards_from_data(tmp_path):
    bot = "variables:\n  conv.plans: {type: list, default: [{id: a, name: A}, {id: b, name: B}]}\n"
    [carousel] = await say(
        tmp_path,
        """
        cards_from:
          items: conv.plans
          as: p
          card: {title: "{{ p.name }}", buttons: [{title: Go, payload: "PLAN:{{ p.id }}"}]}
    """,
        bot,
    )
    assert [i["actions"][0]["payload"] for i in carousel["items"]] == ["PLAN:a", "PLAN:b"]


async def test_account_link_image_file_typing_and_channel(tmp_path):
    replies = await say(
        tmp_path,
        """
        - typing: 800ms
        - {text: "Photo", image: {url: "https://x/i.png", alt: Pic}, file: "https://x/f.pdf"}
        - account_link: {text: "Log in", url: "https://login", button_text: Go, success_message: Done}
        - {text: fallback, channel: {telegram: {sticker: abc}}}
    """,
    )
    assert replies == [
        {"type": "typing", "value": True, "delay": 800},
        {"type": "text", "text": "Photo"},
        {"type": "image", "image": "https://x/i.png", "title": "Pic"},
        {"type": "file", "file": "https://x/f.pdf"},
        {
            "type": "account_linking",
            "text": "Log in",
            "url": "https://login",
            "params": {"button_text": "Go", "success_message": "Done"},
        },
        {"type": "custom", "raw": {"telegram": {"sticker": "abc"}}, "text": "fallback"},
    ]


async def test_catalogue_variants_rotate_and_locales_fall_back(tmp_path):
    bot = """\
    messages:
      hi: {variants: ["Hello", "Hi there"]}
      bye: "Bye"
    translations:
      fr:
        hi: "Bonjour"
    """
    flows = "flows:\n  main:\n    triggers: [{keywords: [go]}]\n    steps: [{say: msg.hi}]\n"
    chat = Chat(make_bot(tmp_path, flows, bot))
    got = [(await chat.text("go")).replies[0]["text"] for _ in range(3)]
    assert got == ["Hello", "Hi there", "Hello"]
    chat.locale = "fr-FR"
    assert (await chat.text("go")).replies[0]["text"] == "Bonjour"


async def test_conditional_variants_and_message_refs_in_text(tmp_path):
    bot = """\
    variables:
      conv.vip: {type: bool, default: true}
    messages:
      greet:
        variants:
          - {when: "conv.vip", text: "Welcome back, VIP"}
          - {when: "not conv.vip", text: "Welcome"}
      login: "Please log in"
    """
    flows = """\
    flows:
      main:
        triggers: [{keywords: [go]}]
        steps:
          - say: [msg.greet, {account_link: {text: msg.login, url: "https://l"}}]
    """
    chat = Chat(make_bot(tmp_path, flows, bot))
    replies = (await chat.text("go")).replies
    assert [r["text"] for r in replies] == ["Welcome back, VIP", "Please log in"]


def test_text_and_typing_built_without_pydantic_equal_the_models():
    from orchestrator import payloads as P
    from orchestrator.engine.replies import _text, _typing

    for markdown in (None, True, False):
        assert _text("hé", markdown) == P.Text(text="hé", markdown=markdown).to_dict()
    assert _typing(1500) == P.Typing(value=True, delay=1500).to_dict()
