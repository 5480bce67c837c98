"""One account's part of an alert, as the work table stores it (JSON) and as the router uses it."""

from __future__ import annotations

from typing import Any

from ..account import AccountResult
from ..models import ExecutionReport


def result_to_dict(result: AccountResult) -> dict[str, Any]:
    """An AccountResult in the shape of an ExecutionReport (legs, notes, positions), so the
    existing report reader (``router.report_from_dict``) reads it back."""
    positions = (result.position,) if result.position is not None else ()
    report = ExecutionReport("", "", tuple(result.reports), tuple(result.notes),
                             positions=positions)
    return report.to_dict()


def result_from_dict(data: dict[str, Any]) -> AccountResult:
    from ..router import report_from_dict

    report = report_from_dict(data)
    position = report.positions[0] if report.positions else None
    return AccountResult(list(report.legs), list(report.notes), position)
