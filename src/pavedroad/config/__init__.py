"""One typed settings model, YAML loading with file locations, and validation."""

from pavedroad.config.loader import ConfigError, ConfigProblem, load_settings
from pavedroad.config.models import (
    BreakerConfig,
    DeploymentConfig,
    ModelConfig,
    RetryConfig,
    Settings,
    TimeoutsConfig,
)

__all__ = [
    "BreakerConfig",
    "ConfigError",
    "ConfigProblem",
    "DeploymentConfig",
    "ModelConfig",
    "RetryConfig",
    "Settings",
    "TimeoutsConfig",
    "load_settings",
]
