"""Reading the recommend config from its YAML file."""

from __future__ import annotations

from pathlib import Path

from touchpoint_recommend.domain.config import ConfigError, RecommendConfig, parse_config_text

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "config" / "default.yaml"


def load_config(path: Path) -> RecommendConfig:
    """Read and validate a config file; ConfigError names the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_config_text(text)


def load_default_config() -> RecommendConfig:
    """The config shipped with the service."""
    return load_config(DEFAULT_CONFIG_PATH)
