"""Placeholder: the pickmytrade dialect."""
