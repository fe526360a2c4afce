"""Settings: a YAML file plus `ORCH_<SECTION>__<KEY>` environment overrides.

Unknown or wrong keys are errors: `load_settings` raises `ConfigError` with one line that names
the key, and the CLI turns it into exit code 2.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "ORCH_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(3100, ge=0, le=65535)
    external_url: str = "http://127.0.0.1:3100"
    admin_key: str = ""
    body_limit: int = Field(150_000, gt=0, description="Largest accepted request body (bytes).")
    access_log: bool = False


class StorageSettings(_Section):
    url: str = "sqlite:///data/orchestrator.db"
    encryption_key: str = Field("", description="Fernet key: encrypts channel configs and webhook tokens.")
    timeout: float = Field(
        5.0, gt=0, description="Longest wait (seconds) for a locked or slow database before a 503."
    )

    @field_validator("encryption_key")
    @classmethod
    def _fernet_key(cls, value: str) -> str:
        from .store.secrets import valid_key

        if value and not valid_key(value):
            raise ValueError("must be a Fernet key (python -m orchestrator.store.secrets prints one)")
        return value

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value


class BusSettings(_Section):
    url: str = "memory://"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://")):
            raise ValueError("must start with memory:// or redis://")
        return value


class BotsSettings(_Section):
    dir: str = "bots"
    reload: bool = True
    env: dict[str, str] = Field(default_factory=dict)
    trace_turns: int = Field(50, ge=0)


class WebhookSettings(_Section):
    timeout: float = Field(10, gt=0)
    max_attempts: int = Field(10, ge=1)
    retry_base: float = Field(0.5, gt=0)
    retry_max: float = Field(300, gt=0)
    max_pending: int = Field(
        10_000, ge=1, description="Outbox rows kept per webhook; the oldest beyond are dropped."
    )
    trim_interval: float = Field(10, gt=0, description="Seconds between checks of `max_pending`.")


class ChannelSettings(_Section):
    test_on_sync: bool = True
    send_timeout: float = Field(10, gt=0)
    max_attempts: int = Field(5, ge=1)


class CollectSettings(_Section):
    """Fair share of `messages/collect` (each open collect holds a connection)."""

    max_per_client: int = Field(
        200, ge=1, description="Open collects one client may hold at once; more get 429."
    )
    max_per_conversation: int = Field(
        5, ge=1, description="Open collects waiting at once in one conversation; more get 429."
    )
    retry_after: int = Field(1, ge=1, description="Seconds a refused collect is told to wait.")


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json_: bool = Field(False, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    bots: BotsSettings = Field(default_factory=BotsSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)


class ConfigError(Exception):
    """A configuration problem, worded as one line that names the key."""


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (if any), apply environment overrides, validate everything."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the config file must be a mapping of sections")
        data = loaded or {}
    from_env = _apply_env_overrides(data, os.environ if environ is None else environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(part) for part in error["loc"])
        key = ".".join(loc)
        where = f" (from {from_env[loc[:2]]})" if loc[:2] in from_env else ""
        if error["type"] == "extra_forbidden":
            hint = _did_you_mean(loc)
            raise ConfigError(f"config: unknown key '{key}'{where}{hint}") from exc
        raise ConfigError(f"config: invalid value for '{key}'{where}: {error['msg']}") from exc


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """`ORCH_SERVER__PORT=8080` sets data['server']['port']; returns which variable set what.
    `ORCH_SERVER_PORT` (one underscore) is refused with the name it was meant to be."""
    origins: dict[tuple[str, ...], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if "__" not in name:
            meant = _double_underscored(name)
            if meant:
                raise ConfigError(f"config: {name} is not read (did you mean {meant}?)")
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"config: section '{section}' must be a mapping")
        # Raw strings: pydantic converts "8080" to int and "true" to bool where the key wants it.
        target[key] = raw
        origins[(section,)] = origins[(section, key)] = name
    return origins


def _keys(loc: tuple[str, ...]) -> list[str]:
    """The keys allowed where `loc` points (its last part is the key itself)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        inner = field.annotation if field is not None else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return [field.alias or name for name, field in model.model_fields.items()]


def _did_you_mean(loc: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(loc[-1], _keys(loc), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _double_underscored(name: str) -> str | None:
    """`ORCH_SERVER__PORT` for `ORCH_SERVER_PORT`, when that names a setting."""
    rest = name[len(ENV_PREFIX) :].lower()
    for section in Settings.model_fields:
        if rest.startswith(section + "_") and rest[len(section) + 1 :] in _keys((section, "")):
            return f"{ENV_PREFIX}{section.upper()}__{rest[len(section) + 1 :].upper()}"
    return None
