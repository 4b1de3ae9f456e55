"""Puente: software to run a national care network."""

__version__ = "0.1.0"
