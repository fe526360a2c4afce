"""One engine turn of the support-desk bot answering an FAQ, in process, no I/O.

    .venv/bin/python bench/engine_turn.py [--turns 3000] [--repeat 5]

Prints JSON: the best and median µs per turn over `repeat` runs of `turns` turns. Run under
`valgrind --tool=callgrind` by bench/collect.py to count instructions per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.config import load_settings
from orchestrator.engine import ActionRegistry, Engine, TurnInput, load_bot

ROOT = Path(__file__).resolve().parent.parent
QUESTION = {"type": "text", "text": "what are your opening hours?"}


async def run(turns: int, repeat: int) -> dict[str, float]:
    bot = load_bot(ROOT / "bots" / "support-desk.yaml", ROOT)
    # the env the server gives it (config.example.yaml): its values are secrets the trace masks
    env = load_settings(ROOT / "config.example.yaml", environ={}).bots.env
    engine = Engine(bot, http=None, actions=ActionRegistry.from_bot(bot), env=env)  # type: ignore[arg-type]
    now = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, within opening hours
    first = await engine.run_turn(TurnInput(event=QUESTION, conv_state=None, user_vars={}, now=now))
    assert len(first.replies) == 2, first.replies  # the FAQ answer and its follow-up
    times = []
    for _ in range(repeat):
        state, user_vars = first.conv_state, first.user_vars
        started = time.perf_counter()
        for _ in range(turns):
            result = await engine.run_turn(
                TurnInput(event=QUESTION, conv_state=state, user_vars=user_vars, now=now)
            )
            state, user_vars = result.conv_state, result.user_vars
        times.append((time.perf_counter() - started) / turns * 1e6)
    return {"best_us": min(times), "median_us": statistics.median(times), "repeat": repeat, "turns": turns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.turns, args.repeat))))


if __name__ == "__main__":
    main()
