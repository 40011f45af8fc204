"""The JSON Schema of the JSON report, generated from the ScanReport model.

Regenerate the committed copy with: ``python -m scanner.report.schema > docs/report.schema.json``
"""

from __future__ import annotations

import json
from typing import Any

from scanner.results import ScanReport


def report_schema() -> dict[str, Any]:
    """The schema of ``ScanReport`` as serialised (what the json format writes)."""
    schema = ScanReport.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def render_schema() -> str:
    return json.dumps(report_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    print(render_schema(), end="")


if __name__ == "__main__":
    main()
