"""One Config snapshot, built from defaults < TOML file < CHINWAG_* env < flags.

Every limit lives in :class:`Limits` so that readers, the hub and (later) IRC
ISUPPORT all see the same numbers.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key and why."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Security and fairness limits, validated once at load."""

    max_line: int = 4096  # bytes per input line, text protocol
    nick_len: int = 32  # characters
    room_len: int = 64  # characters, including the leading '#'
    topic_len: int = 390  # characters
    sendq: int = 1 << 20  # bytes queued for one connection before it is cut off
    # Unsent bytes the kernel may hold for one connection (TCP_NOTSENT_LOWAT).
    # Without it the kernel buffers up to tcp_wmem max (4 MiB) per stalled
    # reader, hiding slow readers from sendq for megabytes.
    kernel_sendq: int = 128 * 1024

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"limits.{f.name} must be a positive integer, got {value!r}")
        if self.room_len < 2:
            raise ConfigError("limits.room_len must allow at least '#x'")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    text_port: int = 2626
    db: str = "chinwag.db"
    log_level: str = "INFO"
    default_room: str = "#lobby"
    shutdown_grace: float = 5.0  # seconds to flush goodbyes before closing
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not 0 <= self.text_port <= 65535:
            raise ConfigError(f"text_port must be 0..65535, got {self.text_port}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if not self.default_room.startswith("#"):
            raise ConfigError("default_room must start with '#'")
        if self.shutdown_grace < 0:
            raise ConfigError("shutdown_grace must be >= 0")


ENV_PREFIX = "CHINWAG_"
_TOP_KEYS = {f.name for f in dataclasses.fields(Config)} - {"limits"}
_LIMIT_KEYS = {f.name for f in dataclasses.fields(Limits)}


def _coerce(name: str, raw: Any, like: Any) -> Any:
    """Convert env strings to the type of the default they replace."""
    if isinstance(raw, str) and not isinstance(like, str):
        try:
            return type(like)(raw)
        except ValueError:
            raise ConfigError(f"{name}: cannot read {raw!r} as {type(like).__name__}") from None
    return raw


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge the sources in precedence order; unknown keys are errors, not silence.

    Env names: CHINWAG_HOST, CHINWAG_TEXT_PORT, ... and CHINWAG_LIMITS__MAX_LINE.
    ``overrides`` holds command-line flags; None values mean "not given".
    """
    top: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        for key, value in data.items():
            if key == "limits" and isinstance(value, dict):
                for lk, lv in value.items():
                    if lk not in _LIMIT_KEYS:
                        raise ConfigError(f"unknown key limits.{lk} in {path}")
                    limits[lk] = lv
            elif key in _TOP_KEYS:
                top[key] = value
            else:
                raise ConfigError(f"unknown key {key!r} in {path}")
    defaults = Config()
    for name, raw in (os.environ if env is None else env).items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key.startswith("limits__"):
            lk = key[len("limits__") :]
            if lk in _LIMIT_KEYS:
                limits[lk] = _coerce(name, raw, getattr(defaults.limits, lk))
        elif key in _TOP_KEYS:
            top[key] = _coerce(name, raw, getattr(defaults, key))
    for key, value in (overrides or {}).items():
        if value is not None:
            top[key] = value
    try:
        return Config(**top, limits=Limits(**limits))
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
