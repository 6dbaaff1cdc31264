"""Refresh the contract fixtures in tests/unit/hooks/fixtures from the last e2e run's records.

.venv/bin/pytest tests/e2e/test_lifecycle.py -k "create or retain" && .venv/bin/python -m tests.refresh_fixtures
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "test-artifacts" / "hook-requests"
FIXTURES = ROOT / "tests" / "unit" / "hooks" / "fixtures"


def main() -> None:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))]

    def name(record: dict) -> str:
        return str(record["request"]["parent"]["metadata"]["name"])

    def phase(record: dict) -> str:
        return str(record["answer"].get("status", {}).get("phase"))

    def observed_pvc(record: dict) -> bool:
        return bool(record["request"]["children"].get("PersistentVolumeClaim.v1"))

    chosen = {
        "sync-first": next(
            r
            for r in records
            if r["hook"] == "sync" and name(r) == "life-create" and not any(r["request"]["children"].values())
        ),
        "sync-running": [
            r
            for r in records
            if r["hook"] == "sync"
            and name(r) == "life-create"
            and r["answer"].get("status", {}).get("phase") == "Running"
        ][-1],
        "finalize-retain": next(
            r
            for r in records
            if r["hook"] == "finalize"
            and name(r) == "life-retain"
            and r["request"]["children"].get("PersistentVolumeClaim.v1")
        ),
        "customize": next(r for r in records if r["hook"] == "customize"),
    }
    for fixture, record in chosen.items():
        (FIXTURES / f"{fixture}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"wrote {fixture}.json")


if __name__ == "__main__":
    main()
