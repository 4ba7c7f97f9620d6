"""Builds the running terminal: engine, brokers, bridge, panels, window."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from typing import Any

from engine.clock import LiveClock
from engine.execution.journal import MemoryJournal
from engine.paths import data_dir
from engine.strategy.runner import StrategyRunner
from engine.trading import TradingEngine
from terminal.main_window import MainWindow
from widgets.bridge import EngineBridge
from widgets.context import AppContext


@dataclass
class Services:
    ctx: AppContext
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def run_until_quit(self, app: Any) -> None:
        done = asyncio.Event()
        app.aboutToQuit.connect(done.set)
        await done.wait()
        for task in self.tasks:
            task.cancel()


def build_context(args: argparse.Namespace) -> AppContext:
    engine = TradingEngine(clock=LiveClock(), journal=MemoryJournal())
    bridge = EngineBridge(engine.bus)
    return AppContext(engine=engine, bridge=bridge, runner=StrategyRunner(engine))


def build_window(args: argparse.Namespace) -> tuple[MainWindow, Services]:
    ctx = build_context(args)
    window = MainWindow(ctx, layout_file=data_dir() / "layout.ini")
    return window, Services(ctx)
