"""The guide's hello broker as an installable plugin (used by tests/e2e)."""
