"""Settings: the one reader of the environment.

Every setting is read from a ``PUENTE_*`` variable (or a ``.env`` file beside the
working directory). Nothing else in Puente looks at ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "development-only-secret-change-me"
LANGUAGES = ("en", "es", "ru", "vi")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PUENTE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/puente.db"
    secret_key: str = DEFAULT_SECRET
    data_dir: Path = Path("./var")
    default_language: Literal["en", "es", "ru", "vi"] = "en"
    # Requests larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = 1_000_000
    # Session cookies carry the Secure flag; browsers accept it on
    # http://127.0.0.1 and http://localhost too. Only turn off for plain-http
    # deployments behind no TLS at all (never in production).
    cookie_secure: bool = True
    page_size_default: int = 50
    page_size_max: int = 500
    # OpenID Connect: set the issuer, client id and secret to sign users in
    # at an identity provider instead of with local passwords (README,
    # "Signing in with OpenID Connect"). Roles stay granted in Puente.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"
    oidc_provider_name: str = "OpenID Connect"
    # Where the provider sends users back; derived from the request when unset.
    oidc_redirect_url: str | None = None
    # Keep the local password form beside the provider (a break-glass admin).
    oidc_allow_local_login: bool = False
    # Virtual-visit rooms (docs/video.md): the STUN/TURN servers handed to the
    # browsers, as a JSON list of RTCIceServer objects, e.g.
    # [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}].
    # Empty: peer-to-peer on the same network only.
    ice_servers: list[dict[str, Any]] = []
    # Several app processes (README, "Several processes"): the Redis that
    # carries visit-room signaling and presence between them, e.g.
    # redis://127.0.0.1:6379/0. Unset: one process, rooms kept in memory.
    redis_url: str | None = None
    # Starts every Redis key and channel Puente uses (one Redis, several uses).
    redis_prefix: str = "puente:"
    # Files shared in a visit room (images and PDF) are refused above this size.
    room_file_max_bytes: int = 10_000_000
    # Case conferences (docs/consults.md, "Case conferences"): peer-to-peer
    # mesh (every pair of browsers one connection, at most
    # conference_mesh_max people) or a Janus VideoRoom at janus_url (its
    # WebSocket transport, e.g. ws://127.0.0.1:8188), for up to
    # conference_max_participants.
    conference_provider: Literal["mesh", "janus"] = "mesh"
    janus_url: str | None = None
    conference_mesh_max: int = 4
    conference_max_participants: int = 24
    # CSV files uploaded on the import pages (/figures/import) up to this size.
    import_max_bytes: int = 50_000_000
    # Notifications (puente notify run). Links in messages start with public_url.
    # Without SMTP / SMS settings every message is written to the log.
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "puente@localhost"
    smtp_starttls: bool = True
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    # `puente serve` sends due notifications from a thread of its own process;
    # turn off when `puente notify run` runs as a separate service.
    notify_in_process: bool = True
    # `puente serve` also escalates consult cases past their response deadline
    # every escalate_interval_seconds; turn off when `puente consults escalate`
    # runs as a separate service (or from cron).
    escalate_in_process: bool = True
    escalate_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Requests let into the app at once (the others wait their turn), and the
    # database connections kept for them (puente.ops.admission says why).
    max_concurrent_requests: int = Field(default=20, ge=1, le=500)
    # Dashboard pages keep each figure this long (puente.reports.cache) and say
    # as of when; 0 keeps none, so a new ledger row shows on the next page.
    dashboard_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    # One JSON object per log line (puente.ops.logs), or plain text.
    log_format: Literal["json", "text"] = "json"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError("PUENTE_SECRET_KEY must be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
