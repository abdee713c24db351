"""Settings, read from the environment with the prefix ``AICOMMONS_``; embedded defaults need no setup."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AICOMMONS_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where the database, keys and artifacts live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite at DATA_DIR/aicommons.db."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=10 * MIB, ge=1024, description="Largest request body accepted.")
    session_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (set behind HTTPS).")
    login_max_failures: int = Field(default=5, ge=1, description="Failed logins per account per window.")
    login_max_failures_per_ip: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    token_max_days: int = Field(default=365, ge=1, description="Longest lifetime an API token may have.")
    log_level: str = "info"
    ledger_origin: str | None = Field(
        default=None, description="Checkpoint origin and key name; default '<HOST>/ledger'.")
    ledger_checkpoint_interval_seconds: float = Field(
        default=1.0, ge=0, description="At most one checkpoint per this many seconds.")
    ledger_sequencer: bool = Field(default=True, description="Integrate queued entries in the server.")
    ledger_poll_seconds: float = Field(default=0.5, gt=0, description="How often the sequencer looks.")
    ledger_batch: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'aicommons.db'}"

    @property
    def effective_ledger_origin(self) -> str:
        return self.ledger_origin or f"{self.host}/ledger"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def ensure_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.secrets_dir.mkdir(mode=0o700, exist_ok=True)


def read_or_create_secret(settings: Settings, name: str, nbytes: int = 32) -> bytes:
    """Return the server secret ``name``, creating it on first use in a mode-0600 file.

    The file is created with O_EXCL so two processes starting at once agree on one secret.
    """
    ensure_data_dir(settings)
    path = settings.secrets_dir / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) < nbytes:
            raise RuntimeError(f"secret file {path} is truncated; remove it to generate a new one") from None
        return data
    value = secrets.token_bytes(nbytes)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
    return value
