"""A report's series as CSV: a header row, then one row per series point."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any


def flat(point: dict[str, Any]) -> dict[str, Any]:
    """One row: nested dicts (a survey's score distribution) become ``<name>_<key>``."""
    row: dict[str, Any] = {}
    for key, value in point.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                row[f"{key}_{sub}"] = v
        else:
            row[key] = value
    return row


def table_csv(points: Iterable[dict[str, Any]]) -> str:
    rows = [flat(p) for p in points]
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def series_csv(report: dict[str, Any]) -> str:
    return table_csv(report["series"])
