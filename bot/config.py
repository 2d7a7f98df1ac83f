"""The service's configuration (`longform run --config FILE`): TOML validated by pydantic.

Every setting is documented beside its field and in config.example.toml (a test keeps the two in
step). Secrets never live in the file: it names the environment variable that holds each token, and
``tokens()`` reads them at start-up, failing with the setting's name and the fix. Errors name the
file, the table and the key; unknown keys are errors.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Platform = Literal["discord", "telegram", "matrix", "replay"]


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names every problem and its fix."""


class _Section(BaseModel):
    # strict: a string is not a boolean or a number ("yes", "9108"); TOML has real ones. Paths and
    # lists (arrays in TOML) are converted, so those fields say strict=False.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StorageConfig(_Section):
    url: str = Field(
        "sqlite:///longform.db",
        description="SQLAlchemy URL: a SQLite file (default) or postgresql+psycopg://...",
    )
    retention_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        30, description="Days message text is kept (0: never stored); ids and scores stay"
    )
    audit_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        365, description="Days audit rows are kept before the purge drops them"
    )


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level logged; message text appears only at debug"
    )
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: JSON unless stderr is a terminal"
    )


class MetricsConfig(_Section):
    enabled: bool = Field(False, description="Serve Prometheus metrics over HTTP")
    host: str = Field("127.0.0.1", description="Address the metrics endpoint listens on")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        9108, description="Port of the metrics endpoint"
    )


class DashboardConfig(_Section):
    enabled: bool = Field(
        False, description="Serve the moderators' dashboard (a web page; sign-in by chat command)"
    )
    listen: str = Field("127.0.0.1", description="Address the dashboard listens on")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8480, description="Port the dashboard listens on"
    )
    public_url: str = Field(
        "",
        description="The dashboard's address as moderators reach it (behind a reverse proxy); "
        "empty: http://listen:port. https makes cookies Secure",
    )
    session_hours: Annotated[float, Field(gt=0, le=168)] = Field(
        12.0, description="How long a sign-in lasts before the moderator must ask for a new link"
    )

    @property
    def base_url(self) -> str:
        """Where sign-in links point, without a trailing slash."""
        return (self.public_url or f"http://{self.listen}:{self.port}").rstrip("/")


class DetoxifyConfig(_Section):
    model: Literal["unbiased", "original", "multilingual"] = Field(
        "unbiased", description="Detoxify model"
    )
    model_dir: Path | None = Field(
        None, description="Directory written by `longform models fetch`", strict=False
    )
    checkpoint: Path | None = Field(
        None, description="Checkpoint file (instead of model_dir)", strict=False
    )
    config_dir: Path | None = Field(
        None, description="Tokenizer/config directory for checkpoint", strict=False
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:0 ...")


class ScoringConfig(_Section):
    backend: Literal["embedded", "detoxify"] = Field(
        "embedded", description="embedded (default, no download) or detoxify"
    )
    sentence_tier: Literal["auto", "on", "off"] = Field(
        "auto",
        description="The embedded scorer's sentence tier (all-MiniLM-L6-v2): auto (when the "
        "embedding extra is installed), on (required) or off (the fast tier alone)",
    )
    sentence_from: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.1,
        description="The fast tier's attack probability from which a text also goes to the "
        "sentence tier: higher is cheaper and misses more (benchmarks/README.md)",
    )
    batch_size: Annotated[int, Field(ge=1, le=1024)] = Field(
        32, description="Texts scored together off the event loop"
    )
    batch_wait_ms: Annotated[int, Field(ge=0, le=5000)] = Field(
        0,
        description="How long the first text of a batch waits for company; 0 (the default): "
        "none, a batch is what arrived while the one before was scored",
    )
    sentence_processes: Annotated[int, Field(ge=0, le=64)] = Field(
        1,
        description="Processes that run the sentence tier, so that the service's event loop "
        "never waits on it; 0 runs it in the service's own process (in a thread)",
    )
    detoxify: DetoxifyConfig = Field(
        default_factory=DetoxifyConfig, description="Where Detoxify's weights are"
    )


class OutboxConfig(_Section):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        5, description="Tries per decision before it is recorded as failed"
    )
    retry_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="First retry delay; doubles each attempt (a platform's retry-after wins)"
    )
    expire_minutes: Annotated[float, Field(gt=0)] = Field(
        60.0, description="A decision not executed within this long is expired, not sent late"
    )


class SchedulerConfig(_Section):
    tick_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="How often the engine's clock is advanced (expiries, slow-mode lifts)"
    )
    snapshot_seconds: Annotated[float, Field(gt=0, le=86400)] = Field(
        60.0, description="How often the engine's memory is saved for a restart"
    )
    snapshot_in_child: bool = Field(
        True,
        description="Write the engine's memory in a forked child process, so judging waits only "
        "for the fork (ignored where the platform cannot fork)",
    )
    digest_hour_utc: Annotated[int, Field(ge=0, le=23)] = Field(
        8, description="Hour (UTC) of the daily moderators' digest"
    )
    longform_days: Annotated[float, Field(gt=0, le=60)] = Field(
        7.0, description="Days after which a long-form space gets a closing reminder"
    )


class PlatformConfig(_Section):
    enabled: bool = Field(False, description="Connect to this platform")
    token_env: str = Field("", description="Environment variable holding the bot token")
    api_url: str = Field(
        "", description="API base URL; empty: the platform's own (set only for a local test server)"
    )


class DiscordConfig(PlatformConfig):
    token_env: str = Field(
        "LONGFORM_DISCORD_TOKEN", description="Environment variable holding the bot token"
    )


class TelegramConfig(PlatformConfig):
    token_env: str = Field(
        "LONGFORM_TELEGRAM_TOKEN", description="Environment variable holding the bot token"
    )
    updates: Literal["polling", "webhook"] = Field(
        "polling", description="How updates arrive: long polling, or a webhook Telegram posts to"
    )
    poll_timeout: Annotated[int, Field(ge=1, le=50)] = Field(
        30, description="Seconds one long poll waits for updates"
    )
    webhook_url: str = Field("", description="Public HTTPS URL Telegram posts updates to (webhook)")
    webhook_listen: str = Field(
        "127.0.0.1", description="Address the local webhook server listens on"
    )
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = Field(
        8443, description="Port of the local webhook server"
    )
    webhook_path: str = Field("telegram", description="Path of the local webhook server")
    webhook_secret_env: str = Field(
        "LONGFORM_TELEGRAM_WEBHOOK_SECRET",
        description="Environment variable with the webhook's secret token (unset: a new one each start)",
    )
    slow_mode: Literal["restrict", "ask_admins"] = Field(
        "restrict", description="Slow-mode emulation where the policy does not choose one"
    )


class MatrixConfig(PlatformConfig):
    """A Matrix homeserver (README, "Setting up Matrix"): the bot is an ordinary user on it.

    A Matrix community is a ``[[communities]]`` table with ``platform = "matrix"``: ``id`` names it
    (the space's room id is a good choice), ``channels`` lists its room ids, ``moderators`` is the
    moderators' room id and ``longform_space`` the space new long-form rooms go in."""

    token_env: str = Field(
        "LONGFORM_MATRIX_TOKEN",
        description="Environment variable holding the bot user's access token",
    )
    homeserver: str = Field(
        "", description="The homeserver's client-server URL, e.g. https://matrix.example.org"
    )
    user_id: str = Field("", description="The bot's Matrix user id, e.g. @longform:example.org")
    sync_timeout_ms: Annotated[int, Field(ge=0, le=120000)] = Field(
        30000, description="How long one /sync long poll waits for events (ms)"
    )


class ReplayPlatformConfig(_Section):
    enabled: bool = Field(
        False,
        description="Serve a file-based platform: events from a JSONL inbox, actions to a file",
    )
    inbox: Path = Field(
        Path("inbox.jsonl"),
        description="JSONL events (replay format), followed as it grows",
        strict=False,
    )
    actions: Path = Field(
        Path("actions.jsonl"),
        description="Where executed decisions are written, once each",
        strict=False,
    )
    action_delay_ms: Annotated[int, Field(ge=0, le=60000)] = Field(
        0, description="Pretend each action takes this long (to rehearse crashes)"
    )


Role = Literal["ingest", "judge", "execute"]
_ROLES: tuple[Role, ...] = ("ingest", "judge", "execute")


class DistributedConfig(_Section):
    """The roles apart, with events through NATS JetStream (README.md, "Deployment")."""

    enabled: bool = Field(
        False, description="Send events through NATS JetStream (off: one process, no NATS)"
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="The NATS server (or servers, comma-separated)"
    )
    stream: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(
        "longform", description="JetStream stream of events; subjects are <stream>.p.<partition>"
    )
    partitions: Annotated[int, Field(ge=1, le=1024)] = Field(
        12,
        description="Partitions of the communities (CRC-32 of the community id, modulo this); "
        "fixed for the stream's life",
    )
    roles: tuple[Role, ...] = Field(
        _ROLES,
        description="Roles this process runs: ingest (platform events in), judge (engines), "
        "execute (the outbox); `longform run --role` overrides",
        strict=False,
    )
    judge_partitions: tuple[Annotated[int, Field(ge=0)], ...] = Field(
        (),
        description="Partitions this judge serves (empty: automatic, a fair share of those free)",
        strict=False,
    )
    batch: Annotated[int, Field(ge=1, le=10000)] = Field(
        256, description="Events a judge takes from a partition at once"
    )
    dedupe_minutes: Annotated[float, Field(gt=0, le=10080)] = Field(
        120.0,
        description="JetStream's de-duplication window: an ingest restarted within it "
        "does not double events",
    )
    retain_hours: Annotated[float, Field(gt=0)] = Field(
        168.0, description="How long the stream keeps events (a judge resumes from its snapshot)"
    )
    execute_platforms: tuple[Platform, ...] = Field(
        (),
        description="Platforms this process's executor serves (empty: every one enabled here)",
        strict=False,
    )
    discord_shard_ids: tuple[Annotated[int, Field(ge=0)], ...] = Field(
        (),
        description="Discord gateway shards this process's ingest connects (empty: unsharded)",
        strict=False,
    )
    discord_shard_count: Annotated[int, Field(ge=0, le=65536)] = Field(
        0, description="Total Discord shards across all processes (with discord_shard_ids)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DistributedConfig:
        wrong = [p for p in self.judge_partitions if p >= self.partitions]
        if wrong:
            raise ValueError(
                f"distributed.judge_partitions: {wrong} not below partitions = {self.partitions}; "
                f"partitions are numbered 0 to {self.partitions - 1}"
            )
        if not self.roles:
            raise ValueError("distributed.roles: name at least one of ingest, judge, execute")
        if self.discord_shard_ids and not self.discord_shard_count:
            raise ValueError(
                "distributed.discord_shard_count: set the total number of shards, "
                "needed with discord_shard_ids"
            )
        beyond = [s for s in self.discord_shard_ids if s >= self.discord_shard_count]
        if self.discord_shard_ids and beyond:
            raise ValueError(
                f"distributed.discord_shard_ids: {beyond} not below discord_shard_count = "
                f"{self.discord_shard_count}"
            )
        return self


class CommunityConfig(_Section):
    platform: Platform = Field(
        description="discord, telegram, matrix, or replay (the file platform)"
    )
    id: str = Field(
        description="Discord guild id, Telegram group chat id, or a name for a Matrix community"
    )
    name: str = Field("", description="A name for logs and the digest")
    longform_space: str = Field(
        "",
        description="Discord forum channel id, or Telegram forum group chat id, for long-form posts",
    )
    moderators: str = Field(
        description="Discord channel id, or Telegram chat id, where alerts and the digest go"
    )
    language: str = Field("en", description="Language of the prompts (the policy's texts)")
    policy: str = Field("", description="Policy for this community (empty: the top-level policy)")
    mode: Literal["", "shadow", "live"] = Field(
        "", description="Override the policy's mode for this community"
    )
    channels: tuple[str, ...] = Field(
        (), description="Channels or topics to watch (empty: all the bot can see)", strict=False
    )


class Config(_Section):
    policy: str = Field(
        "professional", description="Policy preset (professional, strict, gentle) or a TOML file"
    )
    mode: Literal["", "shadow", "live"] = Field(
        "", description="Override the policy's mode everywhere (empty: the policy decides)"
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Database and retention"
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logs")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="Prometheus endpoint")
    dashboard: DashboardConfig = Field(
        default_factory=DashboardConfig, description="The moderators' dashboard"
    )
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description="Hostility scoring")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Executing decisions")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="Timed work")
    discord: DiscordConfig = Field(default_factory=DiscordConfig, description="Discord")
    telegram: TelegramConfig = Field(default_factory=TelegramConfig, description="Telegram")
    matrix: MatrixConfig = Field(default_factory=MatrixConfig, description="Matrix")
    replay: ReplayPlatformConfig = Field(
        default_factory=ReplayPlatformConfig, description="A file-based platform for dry runs"
    )
    distributed: DistributedConfig = Field(
        default_factory=DistributedConfig, description="Roles apart, through NATS JetStream"
    )
    communities: tuple[CommunityConfig, ...] = Field(
        (), description="Communities served, one [[communities]] table each", strict=False
    )

    @model_validator(mode="after")
    def _communities_fit_platforms(self) -> Config:
        seen: set[tuple[str, str]] = set()
        for index, community in enumerate(self.communities):
            where = f"communities[{index}]"
            if not getattr(self, community.platform).enabled:
                raise ValueError(
                    f"{where}.platform: {community.platform} is not enabled; set "
                    f"[{community.platform}] enabled = true or remove the community"
                )
            if (community.platform, community.id) in seen:
                raise ValueError(f"{where}.id: {community.id} is listed twice")
            seen.add((community.platform, community.id))
        for platform in ("discord", "telegram", "matrix"):
            section: PlatformConfig = getattr(self, platform)
            if section.enabled and not section.token_env:
                raise ValueError(
                    f"{platform}.token_env: name the environment variable holding the token"
                )
        _check_matrix(self.matrix)
        return self

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The chat platforms to connect to (each needs a token)."""
        every: tuple[Platform, ...] = ("discord", "telegram", "matrix")  # replay needs no token
        return tuple(platform for platform in every if getattr(self, platform).enabled)

    def community(self, platform: str, community_id: str) -> CommunityConfig | None:
        """The configured community, or None if the bot is in one it was not told about."""
        return next(
            (c for c in self.communities if (c.platform, c.id) == (platform, community_id)), None
        )


def _check_matrix(matrix: MatrixConfig) -> None:
    """An enabled [matrix] table names its homeserver and bot user."""
    if not matrix.enabled:
        return
    if not matrix.homeserver.startswith(("http://", "https://")):
        raise ValueError(
            "matrix.homeserver: give the homeserver's URL, e.g. homeserver = "
            '"https://matrix.example.org"'
        )
    if not (matrix.user_id.startswith("@") and ":" in matrix.user_id):
        raise ValueError(
            'matrix.user_id: give the bot\'s full user id, e.g. user_id = "@longform:example.org"'
        )


def load_config(path: Path) -> Config:
    """The validated config in ``path``; raises ConfigError listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such file; copy config.example.toml and edit it") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("\n".join(_problem(path, item) for item in error.errors())) from error


def _problem(path: Path, item: Mapping[str, object]) -> str:
    location = ".".join(str(part) for part in item["loc"])  # type: ignore[attr-defined]
    if item["type"] == "extra_forbidden":
        return f"{path}: {location}: unknown key (check the spelling against config.example.toml)"
    message = str(item["msg"]).removeprefix("Value error, ")
    given = item.get("input")
    if item["type"] in _WANTS and isinstance(given, str):
        key = location.rsplit(".", 1)[-1]
        message += (f", not the string {given!r}: write it without quotes, "
                    f"e.g. {key} = {_meant(str(item['type']), given)}")  # fmt: skip
    return f"{path}: {location}: {message}" if location else f"{path}: {message}"


# Type errors that TOML quotes cause, and an example of the value meant.
_WANTS = {"bool_type": "true", "int_type": "30", "float_type": "2.5"}


def _meant(kind: str, given: str) -> str:
    """The unquoted value ``given`` probably meant (or an example of the type)."""
    word = given.strip().lower()
    if kind == "bool_type":
        return "false" if word in ("no", "false", "off", "0") else "true"
    try:
        number = float(word) if kind == "float_type" else int(word)
    except ValueError:
        return _WANTS[kind]
    return str(number)


def tokens(config: Config, environ: Mapping[str, str] = os.environ) -> dict[Platform, str]:
    """Each enabled platform's token, read from the environment variable the config names."""
    found: dict[Platform, str] = {}
    missing = []
    for platform in config.platforms:
        variable = getattr(config, platform).token_env
        value = environ.get(variable, "").strip()
        if value:
            found[platform] = value
        else:
            missing.append(
                f"{platform}.token_env: the environment variable {variable} is not set; "
                f"export {variable}=<your {platform} bot token> before starting"
            )
    if missing:
        raise ConfigError("\n".join(missing))
    return found
