"""GET /status latency while template bombs run (issue 9): a bot whose flows hold each bomb,
one collect per bomb, /status polled every 5 ms meanwhile. Prints p50/p99/max per bomb.

Run: .venv/bin/python bench/template_bombs.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.app import create_app
from tests.conftest import make_settings, new_client

BOMBS = {
    "power": "{{ (flow.n + 8) ** 30000000 }}",
    "nested range loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "stored range, 3 loops": (
        "{% set r = range(2000) %}{% for a in r %}{% for b in r %}{% for c in r %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "lipsum": "{{ lipsum(2000000) }}",
    "repeat": "{{ turn.text * 40000000 }}",
}


WORDS = ["alpha", "bravo", "charlie", "delta", "echo"]


def write_bot(root: Path) -> None:
    flows = ["version: 1", "flows:"]
    for n, (name, source) in enumerate(BOMBS.items()):
        flows += [
            f"  bomb{n}:",
            f"    triggers: [{{keywords: [{WORDS[n]}]}}]",
            "    params: {n: {type: int, default: 1}}",
            f'    steps: [{{say: "{source}"}}]  # {name}',
        ]
    (root / "flows").mkdir(parents=True)
    (root / "bots").mkdir(parents=True)
    (root / "flows" / "bombs.yaml").write_text("\n".join(flows) + "\n")
    (root / "bots" / "bombs.yaml").write_text(
        "version: 1\nbot:\n  id: bombs\nflows: [flows/*.yaml]\n"
        "handlers:\n  error: {steps: [{say: 'Sorry, that went wrong.'}]}\n"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_bot(root)
        settings = make_settings(root, bots={"dir": str(root / "bots")})
        http = TestClient(TestServer(create_app(settings)))
        await http.start_server()
        try:
            client = await new_client(http)
            await client.post("/sync", {"bot": "bombs"}, status=200)
            user_id, conversation_id = await client.conversation()
            for n, name in enumerate(BOMBS):
                latencies: list[float] = []
                done = asyncio.Event()

                async def poll(done: asyncio.Event = done, latencies: list[float] = latencies) -> None:
                    # Open-loop: a request is due every 5 ms; its latency counts from when it
                    # was due, so time the loop spent blocked is counted (no coordinated omission).
                    due = time.perf_counter()
                    while not done.is_set():
                        await asyncio.sleep(max(0.0, due - time.perf_counter()))
                        await http.get("/status")
                        latencies.append((time.perf_counter() - due) * 1000)
                        due += 0.005
                        due = max(due, time.perf_counter() - 0.005)

                poller = asyncio.create_task(poll())
                await asyncio.sleep(0.1)
                started = time.perf_counter()
                body = {"conversationId": conversation_id, "authorId": user_id, "timeout": 50000}
                reply = await client.post(
                    "/messages/collect", {**body, "payload": {"type": "text", "text": WORDS[n]}}
                )
                took = time.perf_counter() - started
                await asyncio.sleep(0.1)
                done.set()
                await poller
                texts = [r["payload"].get("text") for r in reply["responses"]]
                q = statistics.quantiles(latencies, n=100, method="inclusive")
                print(
                    f"{name:24} turn {took:5.2f} s  replies {texts}  /status n={len(latencies)}"
                    f" p50={q[49]:.1f} ms p99={q[98]:.1f} ms max={max(latencies):.1f} ms"
                )
        finally:
            await http.close()


if __name__ == "__main__":
    asyncio.run(main())
