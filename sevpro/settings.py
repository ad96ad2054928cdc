"""Process-wide settings: one pydantic-settings model from environment variables (prefix SEVPRO_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEVPRO_", extra="ignore")

    # Read without the prefix too: KAFKA_BOOTSTRAP_SERVERS is the name every Kafka tool uses.
    kafka_bootstrap_servers: str | None = Field(default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_partitions: int = 4
    home: Path = Path(".sevpro")
    companies_file: Path | None = None
    tenant: str = "demo"


def get_settings() -> Settings:
    return Settings()
