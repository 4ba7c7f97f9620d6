"""Alembic migration environment and revision scripts (shipped with the package)."""
