"""Placeholder: the tradingview dialect."""
