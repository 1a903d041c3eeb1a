"""Settings: one object, read from the environment and `.env`.

Invalid settings are reported as one line naming the variable (`SettingsError`);
entry points turn that into exit status 2.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# Secrets that appear in this repository's docs and examples; never accepted
# outside development and test.
EXAMPLE_SECRETS = frozenset(
    {
        "dev-key-minimum-32-characters-long",
        "change-me-to-a-random-string-of-at-least-32-characters",
    }
)
MIN_SECRET_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 16
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SUPPORTED_DRIVERS = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql"}


def backend_of(url: URL) -> str:
    return SUPPORTED_DRIVERS[url.drivername]


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def is_deployed(self) -> bool:
        return self in (Environment.STAGING, Environment.PRODUCTION)


# (pool_size, max_overflow) by environment, as the operations guide sizes them.
POOL_DEFAULTS: dict[Environment, tuple[int, int]] = {
    Environment.DEVELOPMENT: (5, 5),
    Environment.TEST: (5, 5),
    Environment.STAGING: (20, 10),
    Environment.PRODUCTION: (20, 10),
}


class SettingsError(Exception):
    """Settings that cannot be used; `str()` is one line fit for an operator."""


@lru_cache(maxsize=64)
def parse_database_url(value: str, variable: str) -> URL:
    """Parse and check an async database URL, or raise ValueError naming `variable`.

    Cached (a URL is immutable): `Settings.database` and `backend` are read wherever
    code asks which database it is on, background polls included."""
    accepted = "accepted: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST:PORT/DB"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"{variable} is not a database URL ({accepted})") from None
    if url.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(f"{variable} uses unsupported driver '{url.drivername}' ({accepted})")
    if url.drivername.startswith("postgresql") and not url.database:
        raise ValueError(f"{variable} names no database ({accepted})")
    if url.drivername.startswith("sqlite") and url.host:
        raise ValueError(f"{variable}: a SQLite URL takes three slashes and a path ({accepted})")
    for key in ("ssl", "sslmode"):
        mode = url.query.get(key)
        if mode is not None and (mode if isinstance(mode, str) else mode[-1]) not in SSL_MODES:
            raise ValueError(f"{variable}: ?{key}= must be one of {', '.join(SSL_MODES)}")
    return url


# Where the settings file is looked for (see `find_env_file`).
ENV_FILE_VARIABLE = "MANDATE_VAULT_ENV_FILE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env_file_candidates(cwd: Path | None = None) -> list[Path]:
    """`.env` in the working directory, then in the project root (a source checkout)."""
    candidates = [(cwd or Path.cwd()) / ".env"]
    root = PROJECT_ROOT / ".env"
    if (PROJECT_ROOT / "pyproject.toml").is_file() and root not in candidates:
        candidates.append(root)
    return candidates


def find_env_file(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The settings file every entry point reads: MANDATE_VAULT_ENV_FILE when set
    (it must exist), else the first `env_file_candidates()` that exists."""
    named = (os.environ if environ is None else environ).get(ENV_FILE_VARIABLE, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.exists():  # /dev/null is fine: no settings file at all
            raise SettingsError(f"{ENV_FILE_VARIABLE}={named}: no such file")
        return path
    return next((path for path in env_file_candidates(cwd) if path.is_file()), None)


class Settings(BaseSettings):
    # No env_file here: `load_settings` passes the one `find_env_file` chose.
    model_config = SettingsConfigDict(
        env_file=None,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        env_ignore_empty=True,
    )

    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    database_url: str = Field(
        default="sqlite+aiosqlite:///./mandate_vault.db",
        validation_alias=AliasChoices("DATABASE_URL", "WRITE_DB_URL", "database_url"),
    )
    read_db_url: str | None = None
    secret_key: SecretStr
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Idle keep-alive connections are kept this long; longer than the usual
    # load balancer idle timeout (60 s), so the balancer closes first.
    http_keepalive_seconds: int = Field(default=75, ge=1, le=3600)
    # Server processes behind the one port (`serve --workers`); unset: one per
    # core in staging and production, one in development and test.
    workers: int | None = Field(default=None, ge=1, le=256)

    db_pool_size: int | None = Field(default=None, ge=1, le=1000)
    db_max_overflow: int | None = Field(default=None, ge=0, le=1000)
    db_pool_timeout: float = Field(default=30.0, gt=0, le=600)
    db_pool_recycle: int = Field(default=3600, ge=-1)
    db_pool_pre_ping: bool = True
    # A pooled connection idle at least this long is tested before use (with
    # DB_POOL_PRE_PING); one in steady use is not, which saves three round trips
    # a request. 0 tests every checkout.
    db_pool_pre_ping_idle_seconds: float = Field(default=2.0, ge=0, le=3600)
    db_connect_timeout: float = Field(default=10.0, gt=0, le=120)
    sqlite_busy_timeout_ms: int = Field(default=30000, ge=0)
    readiness_timeout: float = Field(default=1.5, gt=0, le=30)

    verify_leeway_seconds: int = Field(default=60, ge=0, le=3600)
    mandate_max_token_bytes: int = Field(default=65536, ge=1024, le=1048576)
    expiry_sweep_seconds: float = Field(default=60.0, ge=0)
    jwks_fetch_timeout: float = Field(default=5.0, gt=0, le=60)
    jwks_max_bytes: int = Field(default=262144, ge=1024)
    jwks_refresh_seconds: int = Field(default=300, ge=1)
    jwks_min_refetch_seconds: int = Field(default=30, ge=0)
    jwks_allow_http: bool = False
    # A source that failed is not asked again for this long, doubling per failure
    # up to the maximum, each wait shortened by up to JWKS_BACKOFF_JITTER (a fraction).
    jwks_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    jwks_backoff_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    jwks_backoff_jitter: float = Field(default=0.2, ge=0, le=1)
    # Key fetches one tenant may have in flight at once; more are not started.
    jwks_max_fetches_per_tenant: int = Field(default=4, ge=1, le=100)
    # Password `mandate-vault seed` gives the demo admin (generated when unset).
    demo_admin_password: SecretStr | None = None
    # Identity and access control.
    access_token_ttl_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_ttl_days: int = Field(default=14, ge=1, le=365)
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    auth_cache_ttl_seconds: float = Field(default=5.0, ge=0, le=60)
    # How long a process reuses the issuer rows it read for a tenant; a change
    # made through this process clears them at its commit (0: read every time).
    trust_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # Rate limits: requests per minute (0 switches one off).
    rate_limit_enabled: bool = True
    # Machine clients submit in bulk: high enough not to throttle a busy integration.
    rate_limit_api_key_per_minute: int = Field(default=60_000, ge=0)
    rate_limit_user_per_minute: int = Field(default=600, ge=0)
    rate_limit_ip_per_minute: int = Field(default=120, ge=0)
    rate_limit_login_per_minute: int = Field(default=10, ge=0)
    redis_url: str | None = None
    # Every Redis key and channel of this deployment starts with this (several
    # deployments, or test runs, may share one Redis).
    redis_prefix: str = Field(default="mv:", min_length=1, max_length=64)
    # Keys that seal secrets at rest (webhook secrets, the vault's private key):
    # comma-separated Fernet keys, the first seals, all open. Empty: derived
    # from SECRET_KEY. Rotate by putting a new key first.
    encryption_keys: SecretStr = SecretStr("")
    # The dashboard: a signed-in browser session ends after this long without a
    # request, and at most this long after sign-in; bulk imports are capped here.
    dashboard_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    dashboard_session_hours: int = Field(default=12, ge=1, le=24 * 14)
    dashboard_import_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=1024**3)
    # Seconds between roll-ups of the audit trail into hourly activity counts and
    # of mandates into counts by status (the dashboard's overview); 0 turns the
    # job off and the overview counts live.
    activity_rollup_seconds: float = Field(default=60.0, ge=0)
    # Hardening.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    cors_origins: str = ""

    # TLS to PostgreSQL: CA bundle for `?ssl=verify-full` / `verify-ca`.
    db_ssl_ca_file: str | None = None
    # Reads go to the primary for this long after the replica failed to answer.
    read_db_retry_seconds: float = Field(default=10.0, ge=0, le=3600)
    slow_query_ms: int = Field(default=500, ge=0)
    metrics_enabled: bool = True
    # Who may scrape GET /metrics: a bearer token, client addresses (IPs or CIDRs,
    # comma-separated), or both (either admits). With neither, /metrics is open in
    # development and test and refuses every scrape in staging and production.
    metrics_token: SecretStr | None = None
    metrics_allowed_ips: str = ""

    backup_dir: str = "./backups"
    backup_retention_days: int = Field(default=30, ge=1)
    backup_keep_min: int = Field(default=3, ge=1)

    # Webhook delivery. Private, loopback and link-local destinations and plain
    # http:// are for development and tests only (both refused in production).
    webhook_allow_private_networks: bool = False
    webhook_allow_http: bool = False
    webhook_connect_timeout: float = Field(default=5.0, gt=0, le=60)
    webhook_timeout: float = Field(default=15.0, gt=0, le=120)
    webhook_dns_timeout: float = Field(default=2.0, gt=0, le=30)
    # Seconds before each attempt: the first is the delay before attempt 1, the
    # n-th the wait after the (n-1)-th failure; its length is the number of attempts.
    webhook_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    webhook_retry_jitter: float = Field(default=0.1, ge=0, le=0.5)
    webhook_retry_after_max_seconds: int = Field(default=86400, ge=0, le=7 * 86400)
    webhook_secret_rotation_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    webhook_disable_after_days: float = Field(default=5.0, gt=0, le=90)
    webhook_response_excerpt_bytes: int = Field(default=4096, ge=0, le=65536)
    # The delivery worker: inside the server by default, or `mandate-vault worker`.
    webhook_worker_in_server: bool = True
    webhook_worker_batch: int = Field(default=100, ge=1, le=1000)
    webhook_worker_concurrency: int = Field(default=50, ge=1, le=1000)
    webhook_worker_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    # A claimed delivery whose worker died is taken by another after this long;
    # longer than one attempt can take, so two never send the same attempt at once.
    webhook_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    webhook_payload_retention_days: int = Field(default=30, ge=1)

    # Alerts: the sweep looks for their conditions every ALERT_SWEEP_SECONDS (0
    # turns the in-server sweep off; `mandate-vault alerts sweep` runs one).
    alert_sweep_seconds: float = Field(default=60.0, ge=0)
    alert_expiring_days: int = Field(default=7, ge=1, le=365)
    # Verification failures of one code for one tenant within the window.
    alert_failure_threshold: int = Field(default=20, ge=1)
    alert_failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # A webhook endpoint or an issuer's key source failing without a success this long.
    alert_webhook_failing_minutes: int = Field(default=60, ge=1)
    alert_issuer_failing_minutes: int = Field(default=60, ge=1)
    # Platform: the newest complete backup in BACKUP_DIR is older than this.
    alert_backup_max_age_hours: float = Field(default=26.0, gt=0)
    alert_resolved_retention_days: int = Field(default=90, ge=1)

    audit_retention_days: int = Field(default=365, ge=1)
    # The tamper-evident trail (docs/audit-chain.md): seconds between sealing
    # passes (0: no sealer in this process; run `mandate-vault audit worker`),
    # checkpoints every so many rows or seconds, and a scheduled verification
    # of every chain (0 turns it off).
    audit_seal_interval: float = Field(default=0.25, ge=0, le=60)
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0, le=86400)
    audit_checkpoint_max_rows: int = Field(default=1024, ge=1, le=4096)
    audit_verify_seconds: float = Field(default=3600.0, ge=0)
    # The vault's ES256 signing key as a PEM file; unset: made on first start and
    # stored in the database sealed under ENCRYPTION_KEYS / SECRET_KEY.
    signing_key_file: str | None = None
    # The `iss` of the receipts the vault signs for AP2 v0.2 presentations.
    ap2_receipt_issuer: str = Field(default="did:web:mandate-vault.localhost", min_length=1)
    retention_batch_size: int = Field(default=5000, ge=1, le=100_000)
    retention_schedule_enabled: bool = True
    retention_run_at: str = "03:00"

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("secret_key")
    @classmethod
    def _secret_length(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _encryption_keys(cls, value: SecretStr) -> SecretStr:
        from cryptography.fernet import Fernet

        for key in _split(value.get_secret_value()):
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    "ENCRYPTION_KEYS must be comma-separated Fernet keys "
                    "(32 url-safe base64-encoded bytes each)"
                ) from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH:
            raise ValueError(
                f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters"
            )
        return value

    @field_validator("metrics_allowed_ips")
    @classmethod
    def _metrics_allowed_ips(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"METRICS_ALLOWED_IPS: '{item}' is not an IP address or network "
                    "(e.g. 10.0.0.5, 10.0.0.0/24, ::1)"
                ) from None
        return value

    @field_validator("retention_run_at")
    @classmethod
    def _run_at(cls, value: str) -> str:
        parts = value.split(":")
        if not (
            len(parts) in (2, 3)
            and all(part.isascii() and part.isdigit() for part in parts)
            and int(parts[0]) < 24
            and all(int(part) < 60 for part in parts[1:])
        ):
            raise ValueError("RETENTION_RUN_AT must be HH:MM (UTC), e.g. 03:00")
        return ":".join(f"{int(part):02d}" for part in parts)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        parse_retry_schedule(value)
        return value

    @field_validator("db_ssl_ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value and not Path(value).expanduser().is_file():
            raise ValueError(f"DB_SSL_CA_FILE: no such file {value}")
        return str(Path(value).expanduser()) if value else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        parse_database_url(value, "DATABASE_URL")
        return value

    @field_validator("read_db_url")
    @classmethod
    def _read_db_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parse_database_url(value, "READ_DB_URL")
        return value

    @model_validator(mode="after")
    def _deployed_rules(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.debug:
                raise ValueError("DEBUG must be false when ENVIRONMENT=production")
            if self.backend == "sqlite":
                raise ValueError("DATABASE_URL must be PostgreSQL when ENVIRONMENT=production")
            if self.webhook_allow_private_networks:
                raise ValueError(
                    "WEBHOOK_ALLOW_PRIVATE_NETWORKS must be false when ENVIRONMENT=production"
                )
            if self.webhook_allow_http:
                raise ValueError("WEBHOOK_ALLOW_HTTP must be false when ENVIRONMENT=production")
        if self.webhook_lease_seconds <= self.webhook_timeout + self.webhook_dns_timeout:
            raise ValueError(
                "WEBHOOK_LEASE_SECONDS must be longer than WEBHOOK_TIMEOUT + WEBHOOK_DNS_TIMEOUT"
            )
        if self.environment.is_deployed and self.secret_key.get_secret_value() in EXAMPLE_SECRETS:
            raise ValueError(
                f"SECRET_KEY is an example value; generate one for ENVIRONMENT={self.environment}"
            )
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
        return value

    @property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(i, strict=False) for i in _split(self.metrics_allowed_ips)
        )

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def encryption_key_list(self) -> list[str]:
        return _split(self.encryption_keys.get_secret_value())

    @property
    def webhook_retry_schedule_seconds(self) -> tuple[int, ...]:
        return parse_retry_schedule(self.webhook_retry_schedule)

    @property
    def database(self) -> URL:
        return parse_database_url(self.database_url, "DATABASE_URL")

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return backend_of(self.database)

    @property
    def read_database(self) -> URL | None:
        return parse_database_url(self.read_db_url, "READ_DB_URL") if self.read_db_url else None

    @property
    def worker_processes(self) -> int:
        """WORKERS, or one per usable core when deployed and one otherwise."""
        if self.workers is not None:
            return self.workers
        if not self.environment.is_deployed:
            return 1
        return available_cores()

    @property
    def pool_size(self) -> int:
        return self.db_pool_size or POOL_DEFAULTS[self.environment][0]

    @property
    def max_overflow(self) -> int:
        if self.db_max_overflow is not None:
            return self.db_max_overflow
        return POOL_DEFAULTS[self.environment][1]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as in a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


MAX_RETRY_DELAY_SECONDS = 7 * 86400


def parse_retry_schedule(value: str) -> tuple[int, ...]:
    """`0,5,300` as whole seconds, or ValueError naming WEBHOOK_RETRY_SCHEDULE."""
    items = _split(value)
    if not items or len(items) > 50:
        raise ValueError("WEBHOOK_RETRY_SCHEDULE must list 1 to 50 delays in seconds, e.g. 0,5,300")
    delays = []
    for item in items:
        if not (
            item.isascii()
            and item.isdigit()
            and len(item) <= 7
            and int(item) <= MAX_RETRY_DELAY_SECONDS
        ):
            raise ValueError(
                "WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds "
                f"between 0 and {MAX_RETRY_DELAY_SECONDS}, e.g. 0,5,300"
            )
        delays.append(int(item))
    return tuple(delays)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _where(env_file: Path | str | None) -> str:
    """Which settings file was read, for messages about missing settings."""
    if env_file is not None:
        return f"read the environment and {Path(env_file).resolve()}"
    looked = " and ".join(str(path) for path in env_file_candidates())
    return f"read the environment only: no {looked}; or set {ENV_FILE_VARIABLE}"


def _describe(error: ValidationError, env_file: Path | str | None) -> str:
    first = error.errors()[0]
    loc = first.get("loc") or ()
    variable = str(loc[0]).upper() if loc else ""
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        return f"{variable} is not set (required; see env.example; {_where(env_file)})"
    if variable and variable not in message:
        return f"{variable}: {message}"
    return message


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment and the settings file (`find_env_file`,
    unless `_env_file=` is given), raising SettingsError with one clear line."""
    if "_env_file" not in overrides:
        overrides["_env_file"] = find_env_file()
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_describe(error, overrides["_env_file"])) from None


def startup_warnings(settings: Settings) -> list[str]:
    """What is allowed here but wrong for anything real; logged at error level on every start."""
    warnings = []
    if settings.secret_key.get_secret_value() in EXAMPLE_SECRETS:
        warnings.append(
            f"SECRET_KEY is an example value from the docs (ENVIRONMENT={settings.environment}); "
            "anyone can forge sessions with it. Generate one: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if settings.debug and settings.environment is not Environment.DEVELOPMENT:
        warnings.append(
            f"DEBUG=true with ENVIRONMENT={settings.environment}; it is meant for development only"
        )
    if (
        settings.metrics_enabled
        and settings.environment.is_deployed
        and settings.metrics_token is None
        and not settings.metrics_networks
    ):
        warnings.append(
            f"METRICS_ENABLED with ENVIRONMENT={settings.environment} but neither METRICS_TOKEN "
            "nor METRICS_ALLOWED_IPS is set: GET /metrics refuses every scrape"
        )
    return warnings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
