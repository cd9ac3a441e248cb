"""Typed settings: the one source of defaults.

Each setting is taken from the first of these that has it:

1. keyword arguments (the CLI passes its ``--home`` / ``--store-url`` options here);
2. ``SHELFWISE_*`` environment variables, nested ones with ``__``
   (``SHELFWISE_BEHAVIOUR_WEIGHTS__CART=4``, ``SHELFWISE_MODELS='["ease", "als"]'``);
3. a TOML file: ``config=`` / ``SHELFWISE_CONFIG``, else ``<home>/shelfwise.toml`` if it exists;
4. the defaults below (``shelfwise.example.toml`` in the repository lists them all).

Nothing here reads ``sys.argv``: the CLI parses arguments and passes them in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shelfwise.data.gorse import GorseSettings
from shelfwise.data.rules import RuleSet
from shelfwise.data.schemas import DEFAULT_BEHAVIOUR_WEIGHTS, EVENT_TYPES
from shelfwise.registry import check_model_name

_ONE_LIMIT = r"\s*\d+\s*(?:/|per)\s*(?:\d+\s*)?(?:second|minute|hour|day|month|year)s?\s*"
RATE_LIMIT = re.compile(rf"{_ONE_LIMIT}(?:[;,|]{_ONE_LIMIT})*", re.IGNORECASE)
ENV_PREFIX = "SHELFWISE_"
CONFIG_NAME = "shelfwise.toml"


class ConfigError(ValueError):
    """A setting that cannot be used, named with where it came from."""


class ServeSettings(BaseModel):
    """``shelfwise serve``: where the HTTP API listens."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port")
    metrics_public: bool = Field(default=False, description="serve /metrics without an admin key")
    workers: int = Field(default=1, ge=1, le=64, description="server processes (above 1 needs online.url)")
    key_cache_seconds: float = Field(default=5.0, ge=0, le=3600,
                                     description="how long a checked key is trusted; a revocation "
                                                 "takes effect within this")
    group_commit_ms: float = Field(default=2.0, ge=0, le=1000,
                                   description="single events arriving within this share one commit")
    retrain_every_minutes: float = Field(default=0.0, ge=0, description="scheduled training runs; 0: off")
    body_timeout_seconds: float = Field(default=10.0, gt=0, le=600,
                                        description="a request body not received within this is a 408")
    access_log: bool = Field(default=False, description="log every request (shopper ids in paths pseudonymised)")
    ssl_certfile: str = Field(default="", description="PEM certificate (chain): serve HTTPS; '' plain HTTP")
    ssl_keyfile: str = Field(default="", description="PEM private key of ssl_certfile")
    rate_limit: str = Field(default="200/second", max_length=200,
                            description="requests per server key (read, write, admin), e.g. "
                                        "'200/second;5000/minute'; '' turns it off")
    browser_rate_limit: str = Field(default="20/second", max_length=200,
                                    description="requests per client address for a public key or a "
                                                "shopper token; '' turns it off")
    auth_failure_limit: str = Field(default="20/minute", max_length=200,
                                    description="failed authentications per client address and per key "
                                                "id, past which they are answered 429; '' turns it off")
    token_max_ttl_seconds: float = Field(default=86_400.0, gt=0, le=30 * 86_400,
                                         description="the longest a shopper token may live")
    token_secret_file: str = Field(default="", max_length=4096,
                                   description="file holding the shopper tokens' signing secret; "
                                               "'' is tokens.secret in home")

    @field_validator("rate_limit", "browser_rate_limit", "auth_failure_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        # the notation of the ``limits`` library (an extra), checked here without it
        if value.strip() and not RATE_LIMIT.fullmatch(value):
            raise ValueError(f"not a rate limit such as '200/second' or '10/second;500/minute': {value[:40]!r}")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ServeSettings:
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("ssl_certfile and ssl_keyfile go together: set both or neither")
        return self


class OnlineSettings(BaseModel):
    """The online state events move at once: popularity counters, recent items, list cache."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(default="", description="'' keeps it in the serving process; redis://host:port/db "
                                             "shares it between processes")
    namespace: str = Field(default="shelfwise", min_length=1, max_length=64,
                           description="prefix of every Redis key (one per shop on a shared server)")
    cache_seconds: float = Field(default=60.0, ge=0, le=86400,
                                 description="lifetime of a cached recommendation list; 0: no cache")
    recent_items: int = Field(default=50, ge=1, le=10_000, description="recent items kept per shopper")
    precompute_seconds: float = Field(
        default=0.0, ge=0, le=86400,
        description="keep every trained shopper's plain list precomputed in the list cache, each for "
                    "this long (a shopper's event, an activation or a stock change voids it at once); 0: off")
    precompute_n: int = Field(default=10, ge=1, le=1000, description="length of the precomputed lists")

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must be '' or a redis:// URL; got {value[:40]!r}")
        return value


class ImpressionSettings(BaseModel):
    """The impression log: what every answered list showed, for feedback and evaluation."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="log every answered list's items, positions and propensities")
    retention_days: float = Field(default=90.0, ge=0, description="delete impressions older than this; 0: keep all")
    flush_seconds: float = Field(default=0.2, gt=0, le=60,
                                 description="how often queued impressions are written to the store")


class PrivacySettings(BaseModel):
    """What the engine does with shoppers' data."""

    model_config = ConfigDict(extra="forbid")
    consent_default: bool = Field(
        default=True, description="personalisation consent of a shopper with no profile (PUT /users sets it)")
    forget_refit_delay_seconds: float = Field(
        default=600.0, ge=0, le=86_400,
        description="shelfwise serve retrains every serving model without forgotten shoppers this long "
                    "after a deletion (deletions meanwhile share the run); 0: at once")
    forget_refit_poll_seconds: float = Field(default=5.0, gt=0, le=3600,
                                             description="how often serve looks for deletions to complete")
    event_retention_days: float = Field(
        default=0.0, ge=0, description="delete raw events older than this (their item counts are kept); 0: keep all")
    no_consent_events: str = Field(
        default="keep", pattern="^(keep|aggregate|drop)$",
        description="raw events of shoppers without consent: keep, aggregate (reduced to item counts) or drop")
    retention_every_minutes: float = Field(
        default=60.0, ge=0, description="how often shelfwise serve applies the two settings above; 0: never "
                                        "(shelfwise retention runs it)")
    dp_enabled: bool = Field(default=False, description="publish popularity counts through OpenDP "
                                                        "(the popular list, 'popular this week (N shoppers)')")
    dp_epsilon_per_day: float = Field(default=1.0, gt=0, le=100, description="privacy budget per UTC day, all "
                                                                             "public counts together")
    dp_epsilon_per_release: float = Field(default=0.25, gt=0, le=100,
                                          description="epsilon one release of one public count spends")
    dp_max_items_per_shopper: int = Field(default=5, ge=1, le=100_000,
                                          description="items a shopper counts towards in one release "
                                                      "(their most recent); the counts' sensitivity")
    dp_refresh_seconds: float = Field(default=43_200.0, gt=0, le=86_400,
                                      description="a release serves this long before a new one is made")
    dp_window_days: float = Field(default=30.0, gt=0, le=3650,
                                  description="days of events the popular list's counts cover")
    dp_alpha: float = Field(default=0.05, gt=0, lt=1,
                            description="the stated bound holds for each count with probability 1 - alpha")

    @model_validator(mode="after")
    def _release_within_budget(self) -> PrivacySettings:
        if self.dp_epsilon_per_release > self.dp_epsilon_per_day:
            raise ValueError(f"dp_epsilon_per_release ({self.dp_epsilon_per_release}) exceeds "
                             f"dp_epsilon_per_day ({self.dp_epsilon_per_day}): no release could be made")
        return self


class SecuritySettings(BaseModel):
    """Keys: the data key that encrypts personal fields, the secret of pseudonyms."""

    model_config = ConfigDict(extra="forbid")
    data_key_file: str = Field(default="", description="file of base64 AES-256 keys, first one current; "
                                                       "'' : <home>/data.key if it exists (SHELFWISE_DATA_KEY "
                                                       "overrides both)")
    pseudonym_key_file: str = Field(default="", description="secret of the HMAC-SHA256 pseudonyms in logs and "
                                                            "exports; '' : <home>/pseudonym.key, made at first use")
    pseudonymise_exports: bool = Field(default=False, description="name shoppers by pseudonym in CSV exports "
                                                                  "(audiences, campaigns, propensity scores)")


class CheckSettings(BaseModel):
    """The hold-out check a training run passes before its models serve."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="check new models before activating them")
    window_days: float = Field(default=7.0, gt=0, description="the hold-out: each shopper's last event "
                                                              "in this many days before the newest")
    max_users: int = Field(default=2000, ge=1, description="hold-out shoppers at most (the most recent)")
    min_users: int = Field(default=10, ge=1, description="fewer hold-out shoppers: activate unchecked")
    margin: float = Field(default=0.02, ge=0, le=1,
                          description="a new model may score this fraction below the active one")


class ProfileSettings(BaseModel):
    """Shopper portraits (``shelfwise.profiles``): kept current as events are accepted."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="update portraits as events are accepted")
    category_depth: int = Field(default=2, ge=1, le=10,
                                description="category path levels an affinity is counted at (2: 'Home > Decor')")
    affinity_half_life_days: float = Field(default=90.0, ge=0,
                                           description="an event's weight in affinities halves after this; 0: no decay")
    activity_half_life_days: float = Field(default=30.0, gt=0,
                                           description="half-life of the decayed event count that is 'activity'")
    activity_low: float = Field(default=2.0, ge=0, description="activity below this is 'low'")
    activity_high: float = Field(default=10.0, ge=0, description="activity at or above this is 'high'")
    new_days: float = Field(default=14.0, ge=0, description="first seen within this many days: stage 'new'")
    active_days: float = Field(default=30.0, gt=0, description="last seen within this many days: 'active'")
    lapsing_days: float = Field(default=90.0, gt=0, description="last seen within this many days: 'lapsing'; "
                                                                "longer ago: 'lost'")
    timezone: str = Field(default="UTC", description="time zone of preferred hours and days")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Paris')") from exc
        return value

    @model_validator(mode="after")
    def _stages_in_order(self) -> ProfileSettings:
        if self.lapsing_days < self.active_days:
            raise ValueError(f"lapsing_days ({self.lapsing_days}) must not be below active_days ({self.active_days})")
        if self.activity_high < self.activity_low:
            raise ValueError(f"activity_high ({self.activity_high}) must not be below activity_low "
                             f"({self.activity_low})")
        return self


class TrainingSettings(BaseModel):
    """Where ``shelfwise train`` fits the models: in this process, or on Spark."""

    model_config = ConfigDict(extra="forbid")
    engine: Literal["local", "spark"] = Field(
        default="local", description="'spark' fits popular, itemknn, rules and als on Spark (the 'spark' "
                                     "extra); other models fit in-process either way")
    spark_master: str = Field(default="local[2]", min_length=1,
                              description="Spark master URL: local[N] on this machine, spark://host:7077 "
                                          "(or yarn, k8s://...) on a cluster")
    spark_driver_memory: str = Field(default="2g", pattern=r"^[0-9]+[kmgt]?$",
                                     description="JVM heap of the Spark driver (e.g. 2g)")
    spark_dir: str = Field(default="", description="folder for the run's Parquet, reachable by every "
                                                   "executor; '' is <home>/spark")

    @field_validator("spark_master")
    @classmethod
    def _master_url(cls, value: str) -> str:
        if not re.fullmatch(r"local(\[(\d+|\*)\])?|yarn|(spark|k8s|mesos)://\S+", value):
            raise ValueError(f"must be local[N], yarn or a spark://, k8s:// or mesos:// URL; got {value[:40]!r}")
        return value


class Settings(BaseSettings):
    """Engine settings; see the module docstring for where each value comes from."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      extra="forbid", validate_default=True)

    home: Path = Field(default=Path(".shelfwise"), description="folder for the store, models and reports")
    config: Path | None = Field(default=None, description=f"TOML settings file; default <home>/{CONFIG_NAME}")
    store_url: str = Field(default="", description="EventStore URL; '' means SQLite in home")
    behaviour_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_BEHAVIOUR_WEIGHTS),
        description="confidence per behaviour; the ones not given keep their defaults")
    models: list[str] = Field(default_factory=lambda: ["popular", "itemknn", "userknn", "rules"],
                              description="models `train` fits when none are named")
    default_model: str = Field(default="itemknn", description="model that serves when none is named")
    model_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="constructor parameters per model ([model_params.sasrec] max_minutes = 2); "
                    "over the shop's tuned parameters, under those a call passes")
    # rows per transaction: large enough that commits and WAL checkpoints stay cheap
    import_chunk_rows: int = Field(default=200_000, ge=1, description="events per import transaction")
    keep_versions: int = Field(default=5, ge=0, description="inactive model versions kept for rollback")
    exclude_types: list[str] = Field(
        default_factory=lambda: ["purchase"],
        description="behaviours whose items a shopper is not shown again (viewed and carted items stay)")
    diversity: float = Field(default=1.0, ge=0, le=1,
                             description="MMR lambda: 1 = relevance order, lower = more varied lists")
    long_tail_share: float = Field(default=0.0, ge=0, le=1,
                                   description="least share of each list from the long tail (items outside "
                                               "the 20% most popular); 0: off")
    explore: bool = Field(default=False, description="fill the last slot from the category bandit")
    explore_seed: int | None = Field(default=None, ge=0,
                                     description="seed of the exploration draws (a reproducible simulation); "
                                                 "none: fresh randomness")
    rules: RuleSet = Field(default_factory=RuleSet, description="the shop's business rules for every list")
    serve: ServeSettings = Field(default_factory=ServeSettings)
    online: OnlineSettings = Field(default_factory=OnlineSettings)
    check: CheckSettings = Field(default_factory=CheckSettings)
    impressions: ImpressionSettings = Field(default_factory=ImpressionSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    gorse: GorseSettings = Field(default_factory=GorseSettings)
    profiles: ProfileSettings = Field(default_factory=ProfileSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)

    @field_validator("behaviour_weights")
    @classmethod
    def _known_behaviours(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown behaviour(s) {unknown}; known: {', '.join(EVENT_TYPES)}")
        return {**DEFAULT_BEHAVIOUR_WEIGHTS, **value}

    @field_validator("exclude_types")
    @classmethod
    def _known_excluded(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown behaviour(s) {unknown}; known: {', '.join(EVENT_TYPES)}")
        return value

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_model(name)
        return value

    @field_validator("model_params")
    @classmethod
    def _known_param_models(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name in value:
            _check_model(name)
        return value

    @field_validator("default_model")
    @classmethod
    def _known_default(cls, value: str) -> str:
        return _check_model(value)

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'events.db'}"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return tuple(source for _, source in _sources(settings_cls, init_settings, env_settings))

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings with the given overrides; ``None`` means "not given"."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})


def _check_model(name: str) -> str:
    return check_model_name(name)


def _config_path(init: dict[str, Any]) -> tuple[Path, bool]:
    """(TOML file to read, whether it was asked for by name)."""
    named = init.get("config") or os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        return Path(named), True
    home = init.get("home") or os.environ.get(f"{ENV_PREFIX}HOME") or ".shelfwise"
    return Path(home) / CONFIG_NAME, False


def _sources(settings_cls, init_settings: InitSettingsSource, env_settings: EnvSettingsSource):
    """The settings sources in priority order, each with a label that says where it is."""
    init = dict(init_settings.init_kwargs)
    path, named = _config_path(init)
    if named and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    return [("option", init_settings), (f"env {ENV_PREFIX}*", env_settings),
            (f"file {path}", TomlConfigSettingsSource(settings_cls, toml_file=path))]


def describe(**overrides: Any) -> list[tuple[str, Any, str]]:
    """(setting, effective value, where it came from) for every setting, nested dicts flattened
    to ``behaviour_weights.cart``: what ``shelfwise config`` and the dashboard print. The store
    is the URL in use (``store_url`` "" is the SQLite file in home); passwords in URLs are
    masked."""
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**given)
    init = InitSettingsSource(Settings, init_kwargs=given)
    layers = [(label, source()) for label, source in
              _sources(Settings, init, EnvSettingsSource(Settings, env_prefix=ENV_PREFIX,
                                                         env_nested_delimiter="__"))]
    rows = []
    for name, value in settings.model_dump().items():
        leaves = value.items() if isinstance(value, dict) else [(None, value)]
        for key, leaf in leaves:
            origin = "default"
            for label, data in layers:
                raw = data.get(name)
                if raw is not None and (key is None or (isinstance(raw, dict) and key in raw)):
                    origin = label
                    if label.startswith("env"):
                        origin = f"env {ENV_PREFIX}{name.upper()}" + (f"__{key.upper()}" if key else "")
                    break
            if name == "store_url" and not leaf:  # "" stands for a file the user should see
                leaf = settings.resolved_store_url
                origin = ("default" if origin == "default" else f'{origin} sets ""') + ": SQLite in home"
            label = name if key is None else f"{name}.{key}"
            rows.append((label, masked(label, leaf), origin))
    return rows


#: Settings (by the last part of their name) and URL query parameters whose value is a secret.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_?key|private_key)$", re.I)
_SECRET_QUERY = re.compile(r"([?&](?:ssl)?(?:password|passwd|secret|token|api_?key)=)[^&#]*", re.I)


def masked(name: str, value):
    """What ``shelfwise config`` and the dashboard may show of a setting: a secret-named one
    (``...password``, ``...token``, ``...secret``, ``...api_key``) as ``***``, URLs through
    ``masked_url``."""
    if value and SECRET_NAME.search(name.rsplit(".", 1)[-1]):
        return "***"
    return masked_url(value)


def masked_url(value):
    """A URL with its password replaced by ``***`` (``postgresql://user:***@host/db``), and
    secret query parameters too (``?sslpassword=***``); any other value as it is."""
    if not isinstance(value, str) or "://" not in value:
        return value
    value = _SECRET_QUERY.sub(r"\1***", value)
    scheme, _, rest = value.partition("://")
    # the user info ends at the last '@' before any query: a password may hold '@' or '/'
    head = rest.split("?", 1)[0].split("#", 1)[0]
    at = head.rfind("@")
    user, colon, _ = head[:max(at, 0)].partition(":")
    if at < 0 or not colon:
        return value
    return f"{scheme}://{user}:***@{rest[at + 1:]}"
