"""The terminal's settings: shipped defaults < user file < ``TT_`` environment variables.

::

    from engine.settings import load_settings, risk_limits, strategy_params

    settings = load_settings()                 # or load_settings("my.toml") for --config
    settings.risk.max_position_pct             # 10.0 (percent)
    settings.source_of("risk.max_position_pct")
    limits = risk_limits(settings)             # engine.risk.limits.RiskLimits
    params = strategy_params(settings, "hybrid")

Every value is validated against ``engine.settings.schema`` when loaded; all problems
are raised together as one ``SettingsError`` (a ``ConfigError``: exit status 2 on the
command line). Secrets are refused in settings: ``engine.settings.secrets``.
"""

from engine.settings.adapters import (
    broker_settings,
    data_folder,
    database_url,
    enabled_brokers,
    engine_config,
    live_enabled,
    portfolio_limits,
    risk_limits,
    strategy_params,
)
from engine.settings.loader import default_settings, env_name, load_settings, validate_file
from engine.settings.model import Problem, Section, Settings, SettingsError, Source
from engine.settings.save import save_user_settings
from engine.settings.schema import Key, Schema, build_schema, is_secret_name
from engine.settings.secrets import (
    delete_secret,
    get_secret,
    install_redaction,
    secret_env_name,
    set_secret,
)

__all__ = [
    "Key",
    "Problem",
    "Schema",
    "Section",
    "Settings",
    "SettingsError",
    "Source",
    "broker_settings",
    "build_schema",
    "data_folder",
    "database_url",
    "default_settings",
    "delete_secret",
    "enabled_brokers",
    "engine_config",
    "env_name",
    "get_secret",
    "install_redaction",
    "is_secret_name",
    "live_enabled",
    "load_settings",
    "portfolio_limits",
    "risk_limits",
    "save_user_settings",
    "secret_env_name",
    "set_secret",
    "strategy_params",
    "validate_file",
]
