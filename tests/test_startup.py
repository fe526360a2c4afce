"""Start-up: configuration errors, environment overrides, database versions, warnings."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.app import create_app
from orchestrator.config import ConfigError, load_settings
from orchestrator.store import StoreError
from orchestrator.store.sqlite import SQLiteStore
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_example_config_is_valid_and_documents_the_defaults() -> None:
    settings = load_settings(ROOT / "config.example.yaml", environ={})
    assert settings.server.port == 3100 and settings.server.host == "127.0.0.1"
    assert settings.storage.url == "sqlite:///data/orchestrator.db"
    assert settings.bus.url == "memory://" and settings.bots.dir == "bots"
    assert (settings.webhooks.timeout, settings.webhooks.max_attempts) == (10, 10)
    assert settings.channels.test_on_sync is True
    assert (settings.logging.level, settings.logging.json_) == ("info", False)


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    environ = {
        "ORCH_SERVER__PORT": "8080",
        "ORCH_CHANNELS__TEST_ON_SYNC": "false",
        "ORCH_SERVER__ADMIN_KEY": "0123",
    }
    settings = load_settings(ROOT / "config.example.yaml", environ=environ)
    assert settings.server.port == 8080
    assert settings.channels.test_on_sync is False
    assert settings.server.admin_key == "0123"


@pytest.mark.parametrize(
    ("yaml_text", "environ", "message"),
    [
        ("server: {prot: 1}\n", {}, "config: unknown key 'server.prot'"),
        ("servers: {}\n", {}, "config: unknown key 'servers'"),
        ("server: {port: high}\n", {}, "config: invalid value for 'server.port'"),
        ("", {"ORCH_WEBHOOKS__MAX_ATTEMPTS": "0"}, "config: invalid value for 'webhooks.max_attempts'"),
        ("", {"ORCH_STORAGE__URL": "mysql://x"}, "config: invalid value for 'storage.url'"),
        ("", {"ORCH_NOPE__X": "1"}, "config: unknown key 'nope' (from ORCH_NOPE__X)"),
        ("server: {prot: 1}\n", {}, "config: unknown key 'server.prot' (did you mean 'port'?)"),
        ("servr: {}\n", {}, "config: unknown key 'servr' (did you mean 'server'?)"),
        ("logging: {jsn: true}\n", {}, "config: unknown key 'logging.jsn' (did you mean 'json'?)"),
        (
            "",
            {"ORCH_SERVER__PROT": "1"},
            "config: unknown key 'server.prot' (from ORCH_SERVER__PROT) (did you mean 'port'?)",
        ),
        (
            "",
            {"ORCH_WEBHOK__TIMEOUT": "1"},
            "config: unknown key 'webhok' (from ORCH_WEBHOK__TIMEOUT) (did you mean 'webhooks'?)",
        ),
        (
            "",
            {"ORCH_SERVER__PORT": "high"},
            "config: invalid value for 'server.port' (from ORCH_SERVER__PORT): ",
        ),
        (
            "",
            {"ORCH_SERVER_ADMIN_KEY": "k"},
            "config: ORCH_SERVER_ADMIN_KEY is not read (did you mean ORCH_SERVER__ADMIN_KEY?)",
        ),
    ],
)
def test_wrong_keys_are_named(tmp_path: Path, yaml_text: str, environ: dict[str, str], message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ=environ)
    assert str(error.value).startswith(message)


def test_unrelated_orch_variables_are_left_alone(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"ORCH_ST_SEED": "1", "ORCHESTRA": "x", "ORCH_": ""})
    assert settings.server.port == 3100


def test_serve_exits_2_with_one_line_on_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server: {port: 1, colour: blue}\n")
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["orchestrator: config: unknown key 'server.colour'"]


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(StoreError, match="schema version 999 is newer"):
        await SQLiteStore(str(tmp_path / "db.sqlite")).open()


async def test_migrations_are_applied_once(tmp_path: Path) -> None:
    for _ in range(2):
        store = SQLiteStore(str(tmp_path / "db.sqlite"))
        await store.open()
        await store.close()
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == sorted(set(versions)) and versions[0] == 1
    assert mode == "wal"


async def test_an_empty_admin_key_is_warned_about(
    aiohttp_client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await aiohttp_client(create_app(make_settings(tmp_path)))
    assert any("admin_key is empty" in r.getMessage() for r in caplog.records)


async def test_old_dedupe_ids_and_channel_values_are_swept(tmp_path: Path) -> None:
    import time

    from orchestrator.services.channel_state import ChannelStateService

    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    state = ChannelStateService(store)
    assert await state.seen_before("c", "qiscus", "m1") is False
    await state.put("channels.ctx:conv", {"room_id": "r1"})
    now = time.time()
    assert await state.prune(now) == 0  # fresh rows stay
    assert await state.seen_before("c", "qiscus", "m1") is True
    assert await state.prune(now + 3 * 86_400) == 1  # the dedupe id is gone after 2 days…
    assert await state.get("channels.ctx:conv") == {"room_id": "r1"}  # …the value is not
    assert await state.prune(now + 31 * 86_400) == 1
    assert await state.get("channels.ctx:conv") is None
    await store.close()


async def test_channel_secrets_and_webhook_tokens_are_encrypted_at_rest(tmp_path: Path) -> None:
    from orchestrator.store import WebhookSpec, open_store
    from orchestrator.store.records import StoredChannelConfig
    from orchestrator.store.secrets import SecretBox

    key = "k" * 43 + "="  # any 32 url-safe base64 bytes make a Fernet key
    url = f"sqlite:///{tmp_path}/db.sqlite"
    store = open_store(url, key)
    await store.open()
    await store.create_client("client", "token-id", "digest")
    config = StoredChannelConfig("client", "qiscus", "1.0.0", {"secretKey": "top-secret-value"})
    await store.apply_sync("client", [config], [WebhookSpec("w", "http://h", "hook-token", None)], None, [])
    await store.close()

    raw = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite*"))
    assert b"top-secret-value" not in raw and b"hook-token" not in raw

    store = open_store(url, key)
    await store.open()
    assert (await store.list_channel_configs("client"))[0].config == {"secretKey": "top-secret-value"}
    assert (await store.list_webhooks("client"))[0].token == "hook-token"
    await store.close()

    without_key = open_store(url)
    await without_key.open()
    with pytest.raises(StoreError, match=r"set storage\.encryption_key"):
        await without_key.list_channel_configs("client")
    await without_key.close()
    assert SecretBox().seal("plain") == "plain"  # no key: stored as before


def test_a_bad_encryption_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"storage\.encryption_key"):
        load_settings(None, environ={"ORCH_STORAGE__ENCRYPTION_KEY": "not-a-key"})
