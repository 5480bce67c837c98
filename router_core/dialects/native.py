"""Placeholder: the native dialect."""
