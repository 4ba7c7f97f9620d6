"""From ``Settings`` to what the engine's parts take: limits, strategy params, broker tables.

Engine modules stay free of the settings system (they take plain dataclasses and
mappings); the terminal builds those here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.settings.model import Settings
from engine.settings.schema import INHERITED

if TYPE_CHECKING:
    from engine.risk.limits import RiskLimits
    from engine.risk.portfolio import PortfolioLimits
    from engine.trading import EngineConfig

BROKERS = ("paper", "binance", "kiwoom")


def risk_limits(settings: Settings) -> RiskLimits:
    """Pre-trade limits from ``[risk]`` (same names, percent units)."""
    from engine.risk.limits import RiskLimits

    return RiskLimits.from_settings(settings.risk)


def portfolio_limits(settings: Settings) -> PortfolioLimits:
    """Daily/drawdown/VaR/stop limits from ``[risk]`` and ``[kill_switch]``."""
    from engine.risk.portfolio import PortfolioLimits

    return PortfolioLimits.from_settings(settings.risk, settings.kill_switch)


def engine_config(settings: Settings) -> EngineConfig:
    """The trading engine's own switches (default broker, kill switch behaviour)."""
    from engine.trading import EngineConfig

    ks = settings.kill_switch
    return EngineConfig(
        default_broker=settings.app.default_broker,
        flatten_on_kill=ks.flatten_positions,
        max_broker_errors=ks.max_broker_errors,
        broker_error_window_seconds=ks.broker_error_window_seconds,
        auto_kill_on_broker_errors=ks.auto_on_broker_errors,
    )


def strategy_params(settings: Settings, name: str) -> dict[str, Any]:
    """Parameters of strategy ``name`` from ``[strategy.<name>]``, validated by the strategy.

    A parameter that means the same as a general setting (``max_position_pct``,
    ``stop_loss_pct``, ``predictor``...; see ``schema.INHERITED``) takes the general
    value unless the strategy's own key was set in a file, the environment or an override.
    """
    from engine.strategy import get_strategy

    cls = get_strategy(name)
    section = f"strategy.{name}"
    params: dict[str, Any] = {}
    for param in cls.params:
        path = f"{section}.{param}"
        if path not in settings.schema:
            continue
        general = INHERITED.get(param)
        if general is not None and settings.source_of(path).kind == "default":
            params[param] = settings.get(general)
        else:
            params[param] = settings.get(path)
    return cls.validate_params(params)


def broker_settings(settings: Settings, name: str) -> dict[str, Any]:
    """The ``[brokers.<name>]`` table for ``create_broker(..., settings=...)``.

    ``enabled`` is for the terminal (whether to create the broker at all) and is left
    out; so is a paper ``bar_participation`` of 0, which means "no volume limit".
    """
    table = dict(settings.get(f"brokers.{name}"))
    table.pop("enabled", None)
    if name == "paper" and not table.get("bar_participation"):
        table.pop("bar_participation", None)
    if name == "binance":  # empty means "the adapter's default"
        for key in ("environment", "symbols", "leverage", "margin_mode"):
            if not table.get(key):
                table.pop(key, None)
    return table


def enabled_brokers(settings: Settings) -> list[str]:
    """Names of the brokers with ``enabled = true`` (paper first)."""
    return [b for b in BROKERS if settings.get(f"brokers.{b}.enabled")]


def live_enabled(settings: Settings, broker: str) -> bool:
    """Real-money trading allowed on ``broker``: only if the user set ``live = true`` for it."""
    path = f"brokers.{broker}.live"
    return path in settings.schema and bool(settings.get(path))


def data_folder(settings: Settings) -> Path:
    """``[data] folder``, or the platform's user data folder when empty."""
    from engine.paths import data_dir

    folder = settings.data.folder
    return Path(folder).expanduser() if folder else data_dir()


def database_url(settings: Settings) -> str:
    """``[data] database_url``, or SQLite in the data folder when empty."""
    url = settings.data.database_url
    if url:
        return url
    if settings.data.folder:
        return f"sqlite:///{data_folder(settings) / 'terminal.sqlite3'}"
    from engine.paths import default_database_path

    return f"sqlite:///{default_database_path()}"
