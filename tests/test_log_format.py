"""serve's log formatter writes logging.Formatter's very text, its time made once a second."""

from __future__ import annotations

import logging

import pytest

from router_core.log_format import LogFormatter

FMT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def record(created: float) -> logging.LogRecord:
    line = logging.LogRecord("router_core", logging.INFO, "", 0, "alert %s", ("a1",), None)
    line.created = created
    line.msecs = int((created - int(created)) * 1000) + 0.0
    return line


@pytest.mark.parametrize("datefmt", [None, "%H:%M:%S"])
def test_the_same_text_as_logging_formatter_across_seconds_and_milliseconds(
        datefmt: str | None) -> None:
    ours, logging_own = LogFormatter(FMT), logging.Formatter(FMT, datefmt=datefmt)
    ours.datefmt = datefmt
    start = 1_764_892_799.0  # a second boundary, then a few lines inside and across seconds
    times = [start + step for step in (0.0, 0.001, 0.5, 0.999, 1.0, 1.25, 61.75, 3600.0, 0.2)]
    texts = [ours.format(record(moment)) for moment in times]
    assert texts == [logging_own.format(record(moment)) for moment in times]
    if datefmt is None:  # every line's milliseconds differ but .000 and .001 (float: 0 both)
        assert len(set(texts)) == len(times) - 1


def test_a_line_of_a_new_second_is_not_given_the_last_second_text() -> None:
    ours = LogFormatter(FMT)
    first, second = ours.format(record(1_000_000.999)), ours.format(record(1_000_001.0))
    assert first != second
    assert second == logging.Formatter(FMT).format(record(1_000_001.0))
    assert second.split(" ")[1].endswith(",000")
