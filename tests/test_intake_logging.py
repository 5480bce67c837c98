"""The secret redactor formats a log line once: the handler's formatter then finds the finished
message (no arguments to format again), the same text, secrets masked."""

from __future__ import annotations

import logging

from router_core.security import SecretRedactor


class _Counted:
    """An argument that counts how often it is formatted."""

    def __init__(self) -> None:
        self.formatted = 0

    def __str__(self) -> str:
        self.formatted += 1
        return "value"


def test_a_line_without_a_secret_is_formatted_once_and_reads_the_same() -> None:
    argument = _Counted()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "alert %s", (argument,), None)
    assert SecretRedactor(["s3cret-token"]).filter(record)
    assert logging.Formatter("%(levelname)s %(message)s").format(record) == "INFO alert value"
    assert argument.formatted == 1


def test_a_line_with_a_secret_is_formatted_once_with_the_secret_masked() -> None:
    argument = _Counted()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "alert %s with %s",
                               (argument, "s3cret-token"), None)
    assert SecretRedactor(["s3cret-token"]).filter(record)
    line = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO alert value with [redacted]"
    assert argument.formatted == 1
