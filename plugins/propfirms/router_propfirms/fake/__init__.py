"""Loopback fakes of the prop-firm venues, for tests and local trials (127.0.0.1 only)."""
