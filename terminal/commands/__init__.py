"""Subcommands of ``trading-terminal``: one module each, exposing ``register(subparsers)``."""
