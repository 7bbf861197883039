"""Version of the package; ``setup.py`` reads it from here."""

__version__ = "2.0.0.dev0"
