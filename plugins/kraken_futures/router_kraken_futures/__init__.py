"""Kraken Futures (derivatives) broker plugin for alert-router."""

from __future__ import annotations

__version__ = "0.1.0"
