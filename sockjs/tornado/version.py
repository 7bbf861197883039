"""Version of the package; ``pyproject.toml`` reads it from here."""

__version__ = "2.0.0.dev0"
