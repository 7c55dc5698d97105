"""Settings: one typed object, read from the environment (and ``.env``) once, at the
entry point, then passed down. Nothing below ``main`` reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://picloud.cc/api/1/upload"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", validation_alias="TELEGRAM_API_URL"
    )
    telegram_file_url: str = Field(
        "https://api.telegram.org/file/bot", validation_alias="TELEGRAM_FILE_URL"
    )
    telegram_webhook_url: str | None = Field(None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_webhook_listen: str = Field(
        "0.0.0.0:8443",
        validation_alias="TELEGRAM_WEBHOOK_LISTEN",
    )

    discord_bot_token: SecretStr | None = Field(None, validation_alias="DISCORD_BOT_TOKEN")
    discord_api_url: str = Field("https://discord.com/api/v10", validation_alias="DISCORD_API_URL")
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg/", validation_alias="DISCORD_GATEWAY_URL"
    )

    api_url: str = Field(DEFAULT_API_URL, validation_alias="PICLOUD_API_URL")
    api_key: SecretStr | None = Field(None, validation_alias="PICLOUD_API_KEY")
    data_dir: Path = Field(Path("./data"), validation_alias="PICLOUD_DATA_DIR")
    database_url: str | None = Field(None, validation_alias="PICLOUD_DATABASE_URL")
    secret_key: SecretStr | None = Field(None, validation_alias="PICLOUD_SECRET_KEY")
    max_upload_mb: int = Field(50, ge=1, validation_alias="PICLOUD_MAX_UPLOAD_MB")
    allow_private_urls: bool = Field(False, validation_alias="PICLOUD_ALLOW_PRIVATE_URLS")

    # A 10-photo album (Telegram's largest) goes up in one round; the host's flood rule
    # (per IP, for all users) caps uploads per minute whatever runs at once.
    workers: int = Field(16, ge=1, le=64, validation_alias="PICLOUD_WORKERS")
    workers_per_user: int = Field(10, ge=1, le=64, validation_alias="PICLOUD_WORKERS_PER_USER")
    upload_deadline_s: float = Field(600.0, gt=0, validation_alias="PICLOUD_UPLOAD_DEADLINE_S")
    job_lease_s: float = Field(60.0, ge=1, le=3600, validation_alias="PICLOUD_JOB_LEASE_S")
    stop_grace_s: float = Field(8.0, ge=0, le=300, validation_alias="PICLOUD_STOP_GRACE_S")
    database_wait_s: float = Field(30.0, ge=0, le=3600, validation_alias="PICLOUD_DATABASE_WAIT_S")
    http_listen: str | None = Field(None, validation_alias="PICLOUD_HTTP_LISTEN")
    """``host:port`` for /healthz, /readyz and /metrics; unset: not served."""
    log_format: Literal["text", "json"] = Field("text", validation_alias="PICLOUD_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="PICLOUD_LOG_LEVEL"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "telegram_bot_token", "discord_bot_token", "api_key", "secret_key", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'picloud-bots.db').resolve()}"
