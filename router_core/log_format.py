"""``serve``'s log formatter: ``logging.Formatter``'s text, its time made once a second.

``logging.Formatter.formatTime`` converts and formats the record's time with
``time.strftime`` for every line: about 1 µs of each of the three or four lines an order
writes. The text up to the second is the same for every line of that second, so it is kept
and only the milliseconds are added per line: the same text, byte for byte
(tests/test_log_format.py).
"""

from __future__ import annotations

import logging
import time


class LogFormatter(logging.Formatter):
    """``logging.Formatter`` whose default time text (no ``datefmt``) is made once a second."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        # (whole second, its text), swapped as one tuple: a line formatted in another thread
        # never pairs one second with another second's text.
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        msec_format = self.default_msec_format
        if datefmt is not None or msec_format is None or record.created < 0:
            return super().formatTime(record, datefmt)  # logging's own way, as before
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        return msec_format % (text, record.msecs)
