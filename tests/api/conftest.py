"""The API tests run on every storage backend: a fresh SQLite file, and a fresh PostgreSQL
schema (skipped, saying why, only when PostgreSQL cannot be reached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import Settings

from ..conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return make_settings(tmp_path, storage={"url": store_url})
