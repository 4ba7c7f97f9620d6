"""Adapters to the outside world (paper, ccxt, kiwoom), found by name through the engine's registry."""
