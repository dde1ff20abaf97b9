"""The package version, in the lowest layer so run folders can record it without importing the facade."""

__version__ = "0.1.0"
