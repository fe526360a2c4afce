"""`orchestrator graph`: pictures of a bot's flows as SVG, Graphviz DOT or Mermaid.

SVG comes from Graphviz (`dot -Tsvg`, Debian's `graphviz` package) when it is installed; without
it, from the studio's own layout (`web/flowsvg.py`) with its stylesheet inlined, so the file
stands alone. DOT and Mermaid are text from `engine/picture.py`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .engine.compiled import BotVersion
from .engine.picture import build, to_dot, to_mermaid

FORMATS = ("svg", "mermaid", "dot")
_CSS = Path(__file__).parent / "web" / "static" / "studio.css"


class PictureError(Exception):
    """A picture that cannot be drawn (unknown flow, Graphviz failing)."""


def draw(bot: BotVersion, fmt: str, flow: str | None = None) -> tuple[str, str]:
    """The picture's text, and which renderer drew it."""
    try:
        pic = build(bot, flow)
    except KeyError:
        raise PictureError(f"no flow {flow!r} in bot {bot.id} (flows: {', '.join(bot.flow_ids)})") from None
    if fmt == "dot":
        return to_dot(pic), "dot"
    if fmt == "mermaid":
        return to_mermaid(pic), "mermaid"
    dot = shutil.which("dot")
    if dot is not None:
        try:
            done = subprocess.run(
                [dot, "-Tsvg"], input=to_dot(pic), capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            raise PictureError("Graphviz took more than 60 s") from None
        if done.returncode != 0:
            raise PictureError(f"Graphviz failed: {done.stderr.strip()[:500]}")
        return done.stdout, "graphviz"
    if flow is not None:
        raise PictureError(
            "--flow with --format svg needs Graphviz (apt install graphviz); or use --format mermaid / dot"
        )
    return _standalone(bot), "studio layout (install graphviz for Graphviz's)"


def _standalone(bot: BotVersion) -> str:
    from .web.flowsvg import render_svg

    svg = render_svg(bot)
    rules = [line for line in _CSS.read_text(encoding="utf-8").splitlines() if line.startswith(".flow-graph")]
    style = "<style>" + "\n".join(rules) + "</style>"
    return re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + style, svg, count=1)
