"""The first ten minutes: a port in use, the serve banner, `explain --json | head`."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from orchestrator.cli import _banner
from tests.conftest import make_settings


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "config.yaml"
        config.write_text(
            f"server: {{port: {port}}}\nstorage: {{url: 'sqlite:///{tmp_path}/o.db'}}\n"
            f"bots: {{dir: '{tmp_path}/none', reload: false}}\nlogging: {{level: error}}\n"
        )
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"orchestrator: port 127.0.0.1:{port} is already in use")
    assert "Traceback" not in done.stderr


def test_the_banner_lists_bots_urls_and_data(tmp_path: Path) -> None:
    text = _banner(make_settings(tmp_path), ["support-desk"])
    assert "bots:     support-desk" in text
    assert "http://127.0.0.1:3100/api/v1" in text and "http://127.0.0.1:3100/docs" in text
    assert f"data:     {tmp_path}/orchestrator.db" in text


def test_explain_json_into_a_closed_pipe_has_no_traceback(tmp_path: Path) -> None:
    script = (
        "import sys, json\n"
        "from orchestrator import cli\n"
        "def run(args):\n"
        "    for i in range(100000): print(json.dumps({'turn': i}))\n"
        "sys.argv = ['orchestrator', 'schema']\n"
        "import argparse\n"
        "args = argparse.Namespace(command='x', run=run)\n"
        "cli._parser = lambda: type('P', (), {'parse_args': lambda self, a: args})()\n"
        "sys.exit(cli.main([]))\n"
    )
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    done = subprocess.run(
        [sys.executable, "-c", script], stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=60
    )
    assert reader.stdin is not None
    reader.stdin.close()
    reader.wait(timeout=30)
    assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr
