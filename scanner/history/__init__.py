"""Scan history (SQLite) and scan-to-scan diffs."""

from scanner.history.diff import DeviceChange, FieldChange, ScanDiff, diff_reports
from scanner.history.store import HistoryStore, ScanRow, default_db_path

__all__ = [
    "DeviceChange",
    "FieldChange",
    "HistoryStore",
    "ScanDiff",
    "ScanRow",
    "default_db_path",
    "diff_reports",
]
