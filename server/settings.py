"""Server settings (pydantic-settings): CLI flags override ``THINKSERVE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "tiny-reasoner"
SHIPPED_MODEL_NAME = "tiny-reasoner"


class Settings(BaseSettings):
    """What the HTTP front end needs; engine arguments travel separately (vLLM's own)."""

    model_config = SettingsConfigDict(env_prefix="THINKSERVE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    http_log_level: str = Field("info", description="uvicorn's and the front end's log level.")
    max_n: int = Field(16, ge=1, description="Largest `n` (choices per request) accepted.")
    max_stop_sequences: int = Field(8, ge=0, description="Most `stop` strings per request.")
