"""The docs stay true: the shell walkthroughs of the README and the docs run, in the order a new
user follows them, in one bash session against a live `orchestrator serve` started from
config.example.yaml (ports and data moved to the test's own; channels.test_on_sync off, as
docs/api.md asks for its made-up credentials), and every output they show
matches what the commands print.

An output shown in a doc is a comment line after the command (`# {…}`, `# → {…}`, or inline
`cmd  # → {…}`); `…` stands for anything, and spaces after `:` and `,` do not count. Prose
comments are not compared. Blocks that need `make` or the fake platforms are not run here
(tests/channels covers the fakes); YAML examples are checked elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WALK = ["README.md", "docs/api.md", "docs/authoring.md", "docs/webhooks.md"]  # the order a user reads
NOT_HERE = re.compile(r"^\s*make |\.venv/bin/python bench/|_fake/")  # blocks run elsewhere
EXPECTED = re.compile(r"#\s*(?:→\s*)?((?:…\s*)?[\[{].*)$")
MARK = "@@step@@"
DOC_API, DOC_HOOK = "127.0.0.1:3100", "127.0.0.1:8000"


def shell_blocks(doc: str) -> list[str]:
    """The ```sh blocks of a doc that run offline."""
    blocks = re.findall(r"^```sh\n(.*?)^```", (ROOT / doc).read_text(), re.S | re.M)
    return [b for b in blocks if not any(NOT_HERE.search(line) for line in b.splitlines())]


def steps(block: str) -> list[tuple[str, list[str]]]:
    """(commands, the outputs shown after them): a block cut at each shown output."""
    cut: list[tuple[str, list[str]]] = []
    commands: list[str] = []
    shown: list[str] = []
    for line in block.splitlines():
        whole = EXPECTED.fullmatch(line.strip())
        inline = EXPECTED.search(line) if not line.lstrip().startswith("#") else None
        if whole and line.lstrip().startswith("#"):
            shown.append(whole.group(1))
            continue
        if shown:
            cut.append(("\n".join(commands), shown))
            commands, shown = [], []
        commands.append(line)
        if inline:
            cut.append(("\n".join(commands), [inline.group(1)]))
            commands = []
    cut.append(("\n".join(commands), shown))
    return cut


def matches(shown: str, printed: str) -> bool:
    """Whether a printed line is, or ends with (curl prints no newline), the output shown."""

    def squeeze(text: str) -> str:
        return re.sub(r"([:,]) ", r"\1", text.strip())

    parts = re.sub(r"\s*…\s*", "…", squeeze(shown)).split("…")
    pattern = re.compile(".*?".join(re.escape(part) for part in parts))
    line = squeeze(printed)
    starts = [0] + [i for i, char in enumerate(line) if char in "[{" and i]
    return any(pattern.fullmatch(line, start) for start in starts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url}: the process exited"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in 30 s")


def test_the_cutting_and_matching_rules() -> None:
    block = 'X=1\necho "$X"\n# → {"a": …}\nsay hi  # → [1, …]\nls\n# prose only\n'
    assert steps(block) == [
        ('X=1\necho "$X"', ['{"a": …}']),
        ("say hi  # → [1, …]", ["[1, …]"]),
        ("ls\n# prose only", []),
    ]
    assert matches('{"a": "x", "b": …}', '{"a":"x","b":[1]}')
    assert matches('… {"t": 1}', 'the end {"t":1}') and not matches('{"t": 2}', '{"t":1}')
    assert matches('{"count": 1}', '{"id":"x"}[{"id":"x"}]{"count":1}')


def test_the_walkthroughs_print_what_the_docs_show(tmp_path: Path) -> None:
    api_port, hook_port, orders_port = _free_port(), _free_port(), _free_port()
    config = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    config["server"].update(port=api_port, external_url=f"http://127.0.0.1:{api_port}")
    config["storage"]["url"] = f"sqlite:///{tmp_path}/orchestrator.db"
    config["channels"]["test_on_sync"] = False  # docs/api.md's made-up credentials say so
    config["bots"].update(dir=str(ROOT / "bots"), reload=False)
    config["bots"]["env"]["ORDERS_API_URL"] = f"http://127.0.0.1:{orders_port}"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "API": f"http://127.0.0.1:{api_port}/api/v1"}
    env["PORT"] = str(hook_port)  # where examples/external_bot.py listens
    orders = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from aiohttp import web; from examples.orders_api import make_app; "
            f"web.run_app(make_app(), host='127.0.0.1', port={orders_port}, print=None)",
        ],
        cwd=ROOT,
        env=env,
    )
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve", "--config", str(tmp_path / "config.yaml")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(f"http://127.0.0.1:{api_port}/status", server)
        _wait(f"http://127.0.0.1:{orders_port}/orders/A12345", orders)
        home = tmp_path / "clone"  # what the docs' relative paths need; files they write land here
        home.mkdir()
        for name in (".venv", "bots", "flows", "examples", "schema", "config.example.yaml"):
            (home / name).symlink_to(ROOT / name)
        plan: list[tuple[str, str, list[str]]] = []
        script = ["set -u"]
        for doc in WALK:
            for block in shell_blocks(doc):
                block = block.replace(DOC_API, f"127.0.0.1:{api_port}").replace(
                    DOC_HOOK, f"127.0.0.1:{hook_port}"
                )
                for commands, shown in steps(block):
                    plan.append((doc, commands, shown))
                    script += [commands, f"printf '\\n%s\\n' {MARK}"]
        script.append("kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; true")
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)], cwd=home, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        for process in (server, orders):
            process.terminate()
            process.wait(20)
        log.close()
    assert {doc for doc, _, shown in plan if shown} == set(WALK)  # each doc shows outputs we check
    outputs = done.stdout.split(MARK + "\n")
    assert len(outputs) == len(plan) + 1, done.stdout[-3000:] + done.stderr[-3000:]
    for (doc, commands, shown), printed in zip(plan, outputs, strict=False):
        lines = printed.splitlines()
        for expected in shown:  # in order, each against some later line of what was printed
            while lines and not matches(expected, lines[0]):
                lines.pop(0)
            assert lines, (
                f"{doc}: after\n{commands}\nthe doc shows\n{expected}\nbut the commands printed\n{printed}"
            )
            lines.pop(0)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_the_conversation_test_sample_prints_what_authoring_shows(tmp_path: Path) -> None:
    """docs/authoring.md's failing test file, run as shown, prints the lines the doc shows."""
    text = (ROOT / "docs/authoring.md").read_text()
    sample = re.search(
        r"^```yaml\n(# yaml-language-server: \$schema=\.\./\.\./schema/test.*?)^```", text, re.S | re.M
    )
    shown = re.search(r"^```\n\$ \.venv/bin/orchestrator test (\S+)\n(.*?)^```", text, re.S | re.M)
    assert sample and shown
    for folder in ("bots", "flows", "schema"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / shown.group(1)).write_text(sample.group(1))
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "test", shown.group(1)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    printed = done.stdout.splitlines()
    for expected in shown.group(2).splitlines():
        if expected.strip() == "…":
            continue
        while printed and not matches(expected, printed[0]):
            printed.pop(0)
        assert printed, f"docs/authoring.md shows\n{expected}\nbut `orchestrator test` printed\n{done.stdout}"
        printed.pop(0)
