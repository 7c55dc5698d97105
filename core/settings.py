"""Settings: one typed object, read from the environment (and ``.env``) once, at the
entry point, then passed down. Nothing below ``main`` reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    discord_shard_count: int | None = Field(None, ge=1, validation_alias="DISCORD_SHARD_COUNT")
    """Shards across every instance; unset: one unsharded connection (Discord wants shards
    past 2500 servers)."""
    discord_shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        None, validation_alias="DISCORD_SHARD_IDS"
    )
    """This instance's shards (``0,1``); unset with a count: all of them."""

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
    """``host:port`` for /healthz, /readyz, /metrics and the gallery; unset: not served."""
    public_url: str | None = Field(None, validation_alias="PICLOUD_PUBLIC_URL")
    """Where people reach that server (``https://bots.example.org``): the gallery's links
    start with it; unset: no gallery."""
    admin_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="PICLOUD_ADMIN_IDS"
    )
    """Operators, ``telegram:<user id>`` or ``discord:<user id>``: their ``/stats`` covers
    everything."""
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

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url_as_base(cls, value: object) -> object:
        """Blank is unset; the base is kept without a trailing slash."""
        if not isinstance(value, str):
            return value
        value = value.strip().rstrip("/")
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or "#" in value or "?" in value:
            raise PydanticCustomError(
                "public_url", "wants the server's base address, such as https://bots.example.org"
            )
        return value

    @field_validator("discord_shard_count", mode="before")
    @classmethod
    def _blank_count_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids_listed(cls, value: object) -> object:
        """``0,1`` (or ``0, 1``) from the environment; blank is unset."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdecimal() for part in parts):
            raise _shard_error("wants shard numbers separated by commas, such as 0,1")
        return tuple(int(part) for part in parts)

    @field_validator("discord_shard_ids", mode="after")
    @classmethod
    def _shards_of_the_count(
        cls, ids: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        if ids is None:
            return None
        if "discord_shard_count" not in info.data:
            return ids  # the count is wrong itself, and said so
        count = info.data["discord_shard_count"]
        if count is None:
            raise _shard_error("needs DISCORD_SHARD_COUNT, the number of shards in all")
        if not ids:
            raise _shard_error("lists no shard")
        if any(shard < 0 or shard >= count for shard in ids):
            raise _shard_error(
                "shards are numbered 0 to {last} with DISCORD_SHARD_COUNT={count}",
                last=count - 1,
                count=count,
            )
        if len(set(ids)) != len(ids):
            raise _shard_error("lists a shard twice")
        return ids

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admins_listed(cls, value: object) -> object:
        """``telegram:1001, discord:2002`` from the environment; blank is none."""
        if not isinstance(value, str):
            return value
        admins = tuple(part.strip().lower() for part in value.split(",") if part.strip())
        for admin in admins:
            platform, _sep, user_id = admin.partition(":")
            if platform not in ("telegram", "discord") or not user_id.isdecimal():
                raise PydanticCustomError(
                    "admin_ids",
                    "wants platform:user id pairs separated by commas, such as "
                    "telegram:1001,discord:2002",
                )
        return admins

    @property
    def discord_shards(self) -> tuple[int, ...] | None:
        """The shards this instance runs, or None: unsharded."""
        if self.discord_shard_count is None:
            return None
        return self.discord_shard_ids or tuple(range(self.discord_shard_count))

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'picloud-bots.db').resolve()}"


def _shard_error(message: str, **context: object) -> PydanticCustomError:
    return PydanticCustomError("discord_shards", message, context or None)
