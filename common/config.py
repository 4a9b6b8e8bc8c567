"""Node configuration, read from the environment or a TOML file.

Environment variables win over the file named by ``NODE_CONFIG``. Only the
division code is required; everything else has a default that runs a node
with no set-up (a SQLite file and an embedded Redis in the data directory).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.divisions import Tier, load_divisions, parent_of_code, tier_of_code
from common.errors import AppError


class ConfigError(AppError):
    code = "invalid_config"


# Bounds of NODE_RELEASE_PIECE_SIZE, in bytes.
MIN_PIECE_SIZE = 1024
MAX_PIECE_SIZE = 16 * 1024 * 1024

# Environment variable → field name. The TOML file uses the field names.
ENV_NAMES = {
    "NODE_CODE": "code",
    "NODE_PARENT_URL": "parent_url",
    "NODE_DATA_DIR": "data_dir",
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "NODE_SYNC_INTERVAL": "sync_interval",
    "NODE_BATCH_SIZE": "batch_size",
    "NODE_RELEASE_PIECE_SIZE": "release_piece_size",
    "NODE_PSEUDONYM_KEY": "pseudonym_key",
    "NODE_SECRET_KEY": "secret_key",
    "NODE_SETTABLE_CLOCK": "settable_clock",
}


@dataclass(frozen=True)
class NodeConfig:
    """Identity and connections of one node."""

    code: str
    data_dir: Path
    parent_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    # Seconds between two scheduled sync rounds of the worker.
    sync_interval: float = 10.0
    # Maximum events in one upward batch or one feed page.
    batch_size: int = 500
    # Bytes of one piece of a catalog release download: the size this node
    # requests from its parent, and the largest it serves to its children.
    release_piece_size: int = 262144
    # Key of the HMAC that turns ID numbers into pseudonyms before they
    # travel to the hub. Every node of one city must use the same key.
    pseudonym_key: str = "development-only-pseudonym-key"
    secret_key: str = "development-only-secret-key"
    # Lets a center administrator set this node's clock, to show and test
    # supervision on chosen dates. Never set in production.
    settable_clock: bool = False

    @property
    def tier(self) -> Tier:
        return tier_of_code(self.code)

    @property
    def parent_code(self) -> str | None:
        return parent_of_code(self.code)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'node.sqlite3'}"

    def validate(self) -> NodeConfig:
        """Check the code against the division list and the parent link.

        Raises ``ConfigError`` or ``UnknownDivision`` naming the bad value.
        """
        load_divisions().get(self.code)
        if self.tier is Tier.CITY and self.parent_url:
            raise ConfigError("the city node has no parent; unset NODE_PARENT_URL")
        if self.tier is not Tier.CITY and not self.parent_url:
            raise ConfigError(
                f"node {self.code} needs its parent's base URL in NODE_PARENT_URL "
                f"(the node of {self.parent_code})"
            )
        if not (math.isfinite(self.sync_interval) and self.sync_interval > 0):
            raise ConfigError("NODE_SYNC_INTERVAL must be a positive number of seconds")
        if not 1 <= self.batch_size <= 5000:
            raise ConfigError("NODE_BATCH_SIZE must be between 1 and 5000 events")
        if not MIN_PIECE_SIZE <= self.release_piece_size <= MAX_PIECE_SIZE:
            raise ConfigError(
                f"NODE_RELEASE_PIECE_SIZE must be between {MIN_PIECE_SIZE} and "
                f"{MAX_PIECE_SIZE} bytes"
            )
        return self


def _convert(name: str, value: object) -> object:
    if name == "data_dir":
        return Path(str(value))
    if name == "sync_interval":
        return _number(name, value, float)
    if name in ("batch_size", "release_piece_size"):
        return _number(name, value, int)
    if name == "settable_clock":
        return _flag(name, value)
    return str(value) if value != "" else None


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _number(name: str, value: object, kind: type) -> object:
    """Convert a number from text or TOML, rejecting booleans and lost digits."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        number = kind(value)
        exact = kind is float or float(value) == number
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not exact:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return number


def load_config(environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Build and validate a ``NodeConfig`` from a file and the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    config_file = environ.get("NODE_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as f:
                values.update(tomllib.load(f))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"cannot read NODE_CONFIG file {config_file}: {exc}"
            ) from exc
    for env_name, name in ENV_NAMES.items():
        if env_name in environ:
            values[name] = environ[env_name]

    unknown = set(values) - set(ENV_NAMES.values())
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    if not values.get("code"):
        raise ConfigError(
            "NODE_CODE is required: the node's division code, e.g. 350623"
        )
    values.setdefault("data_dir", Path("instance") / str(values["code"]))
    converted = {name: _convert(name, value) for name, value in values.items()}
    converted = {k: v for k, v in converted.items() if v is not None}
    return NodeConfig(**converted).validate()  # type: ignore[arg-type]
