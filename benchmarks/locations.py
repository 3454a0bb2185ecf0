"""Accuracy of free-text location resolution on the hand-labelled set (tests/data/
locations_labelled.csv): precision and recall per outcome, venue matches and private-dwelling
detection first. Run: `make bench-locations` (or `python -m benchmarks.locations`)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "locations_labelled.csv"
STATUSES = ("venue", "private", "street", "ambiguous", "unlocated")


def load_labelled(path: Path = LABELLED) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def precision_recall(rows, results, status: str) -> tuple[float, float]:
    """A prediction counts as correct when the status matches and, for places, the place too."""
    predicted = [(row, r) for row, r in zip(rows, results) if r.status == status]
    expected = sum(1 for row in rows if row["expected_status"] == status)
    correct = sum(
        1 for row, r in predicted if row["expected_status"] == status and (r.place_id or "") == row["expected_place_id"]
    )
    return correct / max(len(predicted), 1), correct / max(expected, 1)


def score(resolver, rows) -> dict[str, tuple[float, float]]:
    results = resolver.resolve_many(row["text"] for row in rows)
    return {status: precision_recall(rows, results, status) for status in STATUSES}


def main() -> None:
    from anonymise.locate_batches import LocationResolver
    from anonymise.reference import gazetteer

    rows = load_labelled()
    started = time.perf_counter()
    scores = score(LocationResolver(gazetteer()), rows)
    seconds = time.perf_counter() - started
    print(f"Location resolution on {len(rows)} hand-labelled descriptions ({seconds:.2f} s, index build included)")
    print(f"{'outcome':<10} {'precision':>9} {'recall':>7} {'labelled':>8}")
    for status, (precision, recall) in scores.items():
        labelled = sum(1 for row in rows if row["expected_status"] == status)
        print(f"{status:<10} {precision:>9.3f} {recall:>7.3f} {labelled:>8}")


if __name__ == "__main__":
    main()
