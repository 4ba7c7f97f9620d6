"""Bundled resources: icons, themes and the sample market data (see README for licences)."""
