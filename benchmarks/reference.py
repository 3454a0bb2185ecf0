"""What the pipeline is compared with: a naive pandas script (kept for history), and the
machine's limits for the two heaviest steps (HMAC-SHA256 per value on one core and on all of
them, CSV parsing). The DuckDB SQL peer is in peer.py."""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path

IDENTIFIERS = ("ATTENDANCE IDENTIFIER", "NHS NUMBER")
PLACE_TEXT = "ASSAULT LOCATION DESCRIPTION"


def naive_baseline(ed: str) -> dict:
    """Read the whole ED file with pandas, HMAC each identifier row by row with DataFrame.apply,
    count rows per place text, write the counts as CSV."""
    import pandas as pd

    key = os.urandom(32)
    started = time.perf_counter()
    frame = pd.read_csv(ed, dtype=str, keep_default_na=False)
    for column in IDENTIFIERS:
        frame[f"{column} PSEUDONYM"] = frame.apply(
            lambda row, column=column: hmac.new(key, row[column].encode(), hashlib.sha256).hexdigest(), axis=1
        )
    counts = frame.groupby(PLACE_TEXT).size().rename("incidents")
    with tempfile.TemporaryDirectory() as folder:
        counts.to_csv(Path(folder) / "counts.csv")
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "seconds": seconds, "rows_per_second": len(frame) / seconds}


def _best_rate(fn, count: int, repeats: int = 3) -> float:
    best = min(_timed(fn) for _ in range(repeats))
    return count / best


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def machine_limits(ed: str, hmac_values: int = 100_000) -> dict:
    """HMAC-SHA256 of 32-byte messages in a tight loop on one core (values/s; the limit is the
    fastest way), the same on every core by the fastest way here (peer.all_core_hmac_limit),
    and pyarrow.csv.read_csv on the ED file (rows/s, MB/s); best of three runs each."""
    import pyarrow.csv

    from anonymise.keyed_hash import hmac_sha256
    from benchmarks.peer import all_core_hmac_limit

    key, messages = os.urandom(32), [os.urandom(32) for _ in range(hmac_values)]
    sha256 = hashlib.sha256
    ways = {
        "hmac_new_hexdigest": lambda: [hmac.new(key, m, sha256).hexdigest() for m in messages],
        "hmac_digest": lambda: [hmac.digest(key, m, "sha256") for m in messages],
        "hmac_pads_once": lambda: hmac_sha256(key, messages),  # istv's own way
    }
    hmac_rates = {name: _best_rate(fn, hmac_values) for name, fn in ways.items()}
    size = Path(ed).stat().st_size
    rows = pyarrow.csv.read_csv(ed).num_rows
    seconds = min(_timed(lambda: pyarrow.csv.read_csv(ed)) for _ in range(3))
    return {
        "hmac": {
            "message_bytes": 32,
            "values": hmac_values,
            **{f"{k}_per_second": v for k, v in hmac_rates.items()},
            "values_per_second": max(hmac_rates.values()),
        },
        "hmac_all_cores": all_core_hmac_limit(),
        "arrow_csv": {
            "rows": rows,
            "bytes": size,
            "seconds": seconds,
            "rows_per_second": rows / seconds,
            "mb_per_second": size / 2**20 / seconds,
        },
    }
