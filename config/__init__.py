"""Default settings shipped with the application (``default.toml``)."""
