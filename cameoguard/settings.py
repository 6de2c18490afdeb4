"""Service settings: environment variables (CAMEOGUARD_*) over an optional TOML file over defaults.

The TOML file is named by CAMEOGUARD_CONFIG, or `cameoguard.toml` in CAMEOGUARD_HOME when present.
Keys in the file are the field names below (e.g. `database_url = "postgresql+psycopg://..."`).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


def default_home() -> Path:
    """The per-user data folder (on Linux $XDG_DATA_HOME/cameoguard, else
    ~/.local/share/cameoguard), so the CLI works the same from any folder."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("cameoguard", appauthor=False))


def _home() -> Path:
    named = os.environ.get("CAMEOGUARD_HOME")
    return Path(named).resolve() if named else default_home()


def _config_file() -> Path | None:
    named = os.environ.get("CAMEOGUARD_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(f"CAMEOGUARD_CONFIG names {path}, which does not exist")
        return path
    default = _home() / "cameoguard.toml"
    return default if default.is_file() else None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the optional TOML settings file; unknown keys are an error, not silently ignored."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = _config_file()
        self._values: dict[str, Any] = {}
        if path is not None:
            with path.open("rb") as fh:
                self._values = tomllib.load(fh)
            unknown = set(self._values) - set(settings_cls.model_fields)
            if unknown:
                raise ValueError(f"{path}: unknown settings {sorted(unknown)}")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAMEOGUARD_", extra="ignore")

    home: Path = Field(
        default_factory=_home,
        description=(
            "Folder for the embedded defaults' state (default: the per-user data folder,"
            " ~/.local/share/cameoguard on Linux)"
        ),
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at $CAMEOGUARD_HOME/cameoguard.db",
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_session_timeout_ms: int = Field(
        default=6000, description="Consumer group session timeout (a join waits about half)"
    )
    media_dir: Path | None = Field(default=None, description="Content-addressed media store folder")
    secret_key: str = Field(
        default="",
        description="Master secret (hex, >=32 bytes); empty means a key file in CAMEOGUARD_HOME",
        repr=False,
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_request_bytes: int = Field(default=1_048_576, description="Largest JSON request body")
    rate_limit_per_minute: int = Field(
        30_000, ge=0, description="Requests per minute per API key (0: no limit)"
    )
    rate_limit_burst: int = Field(1000, ge=1, description="Requests a key may send at once")
    work_budget_ms_per_minute: int = Field(
        120_000,
        ge=0,
        description=(
            "Estimated CPU-milliseconds of costly work (media analysis, long texts) a key may"
            " spend per minute (0: no limit)"
        ),
    )
    work_budget_burst_ms: int = Field(
        60_000, ge=1, description="Most estimated CPU-milliseconds one key may spend at once"
    )
    heavy_work_slots: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) - 1),
        ge=1,
        le=64,
        description=(
            "Heavy requests (media analysis, long texts) run at once; the others wait for a"
            " slot (default: one core fewer than the machine has, so light checks keep one)"
        ),
    )
    heavy_work_processes: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) - 1),
        ge=0,
        le=64,
        description=(
            "Worker processes for heavy pure-Python work (reading long texts), so it does not hold"
            " the API process's GIL; 0 runs it in threads (default: one core fewer than the"
            " machine has)"
        ),
    )
    heavy_work_wait_s: float = Field(
        10.0, ge=0, description="How long a heavy request waits for a slot before a 503"
    )
    gil_switch_interval_ms: float = Field(
        0.5,
        gt=0,
        le=100,
        description=(
            "How often the API process's threads hand Python's GIL over (Python's default is 5 ms):"
            " short, so the event loop answering light checks is not starved by heavy work"
        ),
    )
    unauthenticated_rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Requests per minute per client address without a valid key (0: no limit)",
    )
    unauthenticated_rate_limit_burst: int = Field(
        60, ge=1, description="Requests without a valid key an address may send at once"
    )
    auth_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description=(
            "How long a checked API key is trusted without reading its row again; a revocation"
            " through another process takes effect within this time (0: read every time)"
        ),
    )
    max_upload_bytes: int = Field(default=200 * 1_048_576, description="Largest media upload")
    ready_requires: Annotated[list[str], NoDecode] = Field(
        default=["database", "models"],
        description="Parts that must be up for /readyz to answer 200 (database, broker, models)",
    )
    log_level: str = "INFO"
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port instead of the API's (keep it off the internet)",
    )
    metrics_host: str = Field("127.0.0.1", description="Where the separate metrics port listens")
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "A worker serves its Prometheus /metrics on this port (one port per worker process;"
            " `cameoguard up` gives each worker its own from --metrics-base-port)"
        ),
    )
    worker_heartbeat_s: float = Field(
        10.0, gt=0, le=60, description="How often a worker writes its heartbeat row"
    )
    worker_summary_s: float = Field(
        60.0, gt=0, description="How often a worker logs its summary (processed, failed, lag)"
    )
    policy_pack: Path | None = Field(
        default=None, description="Policy pack YAML; empty means policies/default.yaml"
    )
    model_threads: int = Field(
        default=1,
        description=(
            "CPU threads per model call (1: a short prompt gains nothing from a second thread,"
            " and concurrent requests keep the other cores busy)"
        ),
    )
    model_workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)),
        ge=1,
        le=64,
        description="Text-model calls run at once (default: one per core, at most 4)",
    )
    signing_cert: Path | None = Field(None, description="PEM chain, leaf first (operator signing)")
    signing_key: Path | None = Field(None, description="PEM private key of the leaf", repr=False)
    trust_anchors: Path | None = Field(None, description="PEM bundle of trusted roots")
    tsa_url: str | None = Field(None, description="RFC 3161 timestamp authority URL (optional)")
    visible_mark_brand: str = Field("cameoguard", description="Name in the visible mark")
    kafka_topic_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9._-]{0,100}$",
        description="Prefix of every topic name (e.g. prod.)",
    )
    relay_replay_window_s: float = Field(
        3600.0, gt=0, description="After the broker lost its log, re-publish events this recent"
    )
    generator_backend: str = Field("embedded", description="embedded, http or diffusers")
    generator_http_url: str | None = Field(None, description="External video API endpoint")
    generator_http_timeout_s: float = Field(120.0, gt=0, description="External API timeout")
    generator_diffusers_path: Path | None = Field(
        None, description="Folder of a local diffusers text-to-video pipeline (operator weights)"
    )
    generation_max_seconds: float = Field(20.0, gt=0, le=120, description="Longest generation")
    generation_lease_seconds: int = Field(300, ge=10, description="A running job's lease")
    face_backend: str = Field("dlib", description="Face embedding: dlib, or insightface (pack dir)")
    insightface_pack: Path | None = Field(None, description="Operator-supplied insightface pack")
    registry_index: str = Field("exact", description="1:N search: exact, or faiss (HNSW)")
    feed_frames_per_second: float = Field(
        0.5, gt=0, le=5, description="Frames the feed's face workers sample per second"
    )
    minor_age_margin: int = Field(7, description="Apparent age below 18 + margin = possible minor")
    enrollment_max_seconds: float = Field(30.0, description="Longest enrollment video")
    likeness_max_seconds: float = Field(600.0, description="Longest media for a likeness check")
    likeness_rescan_window_days: float = Field(
        30.0, gt=0, description="Items this recent are matched again against a new identity"
    )
    likeness_rescan_items_per_minute: float = Field(
        30.0, ge=0, description="Pace of those re-scans (items decoded a minute; 0: none)"
    )
    protected_seed_dir: Path | None = Field(
        None,
        description=(
            "The operator's protected-people folder, seeded into the bank at start: one folder"
            " per person with photos, voice clips and an optional person.json (README)"
        ),
    )
    challenge_ttl_seconds: int = Field(600, description="How long an enrollment phrase is valid")
    max_image_pixels: int = Field(
        25_000_000, ge=1, description="Largest image (pixels) a request may make us decode"
    )
    max_frame_pixels: int = Field(
        3840 * 2160, ge=1, description="Largest video frame (pixels): 4K UHD by default"
    )
    max_decode_pixels: int = Field(
        5_000_000_000,
        ge=1,
        description=(
            "Pixels one request may make us decode in all (about 10 CPU-seconds); longer video"
            " is sampled from its keyframes, and a file that decodes to more is refused (413)"
        ),
    )
    enrollment_attempts_per_hour: int = Field(
        5, ge=0, description="Enrollment attempts (spent challenges) per owner per hour (0: none)"
    )
    enrollment_images_mode: str = Field(
        "refuse",
        pattern="^(refuse|platform_checked)$",
        description=(
            "Photos plus a voice clip cannot show a live face: refuse them, or accept them as"
            " platform_checked (the platform runs its own liveness check; recorded so)"
        ),
    )
    liveness_min_motion: float = Field(
        0.15, ge=0, description="Least non-rigid face motion (mouth/eyes) of a live enrollment"
    )
    liveness_min_sync: float = Field(
        0.5, ge=-1, le=1, description="Least mouth-motion/voice-loudness correlation"
    )
    liveness_max_lag_seconds: float = Field(
        0.2, ge=0, le=0.5, description="Largest audio/video offset the sync check accepts"
    )
    liveness_max_digit_edits: int = Field(
        1, ge=0, le=3, description="Digits heard may differ from the challenge by this many edits"
    )

    _master_key: bytes | None = PrivateAttr(default=None)

    @field_validator("ready_requires", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'cameoguard.db'}"

    @property
    def effective_media_dir(self) -> Path:
        return self.media_dir or self.home / "media"

    def master_key(self) -> bytes:
        """The master secret; created once (mode 0600) in CAMEOGUARD_HOME when not configured."""
        if self._master_key is None:
            self._master_key = self._load_master_key()
        return self._master_key

    def _load_master_key(self) -> bytes:
        if self.secret_key:
            key = bytes.fromhex(self.secret_key)
            if len(key) < 32:
                raise ValueError("CAMEOGUARD_SECRET_KEY must be at least 32 bytes of hex")
            return key
        path = self.home / "secret.key"
        if not path.exists():
            from cameoguard.files import private_dir

            private_dir(self.home)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
