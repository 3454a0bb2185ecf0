"""Yardsticks a data engineer would hold istv to (issue 19): the same month done by a short
DuckDB SQL script (the "peer"), and HMAC-SHA256 on every core by the fastest way available here.

The peer does the core of istv's job and nothing more: read each delivered file with read_csv,
HMAC-SHA256 its identifiers, count per grid cell and month, write Parquet. No validation, no
identifier normalisation, no free-text location, no leak scan, no disclosure control: istv does
all of that too, so it may take longer, but the issue's target is at most twice the peer's time.

HMAC in SQL is the textbook construction, H(key ^ opad || H(key ^ ipad || message)), with the
key's two 64-byte pads bound as DuckDB variables (SET VARIABLE from a prepared-statement
parameter) so no key byte is ever written into a query's text. DuckDB folds the variables into
the plan as constants, so EXPLAIN or profiling output would show the pads: the keys here are
throwaway random ones, but a pipeline using this must keep such output out of its logs.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from pathlib import Path


def bind_key(con, key: bytes) -> None:
    """Make `hmac_sql` expressions on `con` use `key`: the pads are parameters, never SQL text."""
    from anonymise.keyed_hash import hmac_pads

    ipad, opad = hmac_pads(key)
    con.execute("SET VARIABLE istv_hmac_ipad = ?::BLOB", [ipad])
    con.execute("SET VARIABLE istv_hmac_opad = ?::BLOB", [opad])


def hmac_sql(message: str) -> str:
    """SQL for the lower-case hex HMAC-SHA256 of `message` (a BLOB expression; wrap text in
    encode() for its UTF-8 bytes) under the key `bind_key` bound. DuckDB's sha256 takes VARCHAR
    or BLOB and returns hex, so the inner digest goes back to bytes with unhex."""
    inner = f"unhex(sha256(getvariable('istv_hmac_ipad') || {message}))"
    return f"sha256(getvariable('istv_hmac_opad') || {inner})"


def _text(column: str) -> str:
    return f'encode("{column}")'


GRID_DEGREES = 0.005  # police cells about 550 m north-south by 350 m east-west in Cardiff

# One query per delivered file. Every column is read as text, as istv reads it (an NHS number
# read as a number would lose what HMAC must see), and faulty values become NULL (try_*)
# instead of stopping the query, since the synthetic month plants about 1% of them. The
# pseudonyms are counted distinct per group, approximately (HyperLogLog, within about 10%: little
# memory and work, where an exact count would hold every pseudonym): an output that did not use
# them would let DuckDB skip computing them.
# ED rows carry no coordinates (istv resolves the free-text place; the peer does not), so the
# treating site and the coded location type stand in for the cell.
QUERIES = {
    "ed": f"""
        SELECT date_trunc('month', try_strptime("ASSAULT DATE AND TIME", '%d/%m/%Y %H:%M')) AS month,
               "SITE CODE (OF TREATMENT)" AS site,
               "ASSAULT LOCATION TYPE" AS location_type,
               count(*) AS rows,
               approx_count_distinct({hmac_sql(_text("ATTENDANCE IDENTIFIER"))}) AS attendances,
               approx_count_distinct({hmac_sql(_text("NHS NUMBER"))}) AS people
        FROM read_csv($path, header = true, all_varchar = true)
        GROUP BY ALL
    """,
    "police": f"""
        SELECT date_trunc('month', try_cast("COMMITTED FROM" AS TIMESTAMP)) AS month,
               floor(try_cast(LATITUDE AS DOUBLE) / {GRID_DEGREES})::INTEGER AS cell_lat,
               floor(try_cast(LONGITUDE AS DOUBLE) / {GRID_DEGREES})::INTEGER AS cell_lon,
               count(*) AS rows,
               approx_count_distinct({hmac_sql(_text("CRIME REFERENCE"))}) AS crimes
        FROM read_csv($path, header = true, all_varchar = true)
        GROUP BY ALL
    """,
}


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"  # COPY's target cannot be a parameter


def duckdb_peer(inputs: dict, work: str) -> dict:
    """The peer over the month's ED and police files, each to <work>/peer/<source>.parquet,
    with DuckDB's own defaults (a thread per core, 80% of memory), as a data engineer would run
    it. Timed from the first query to the last file written; connecting and binding the key
    (whose first parameter makes DuckDB's client import pandas, half a second) are setup, as
    imports are in the stages."""
    started = time.perf_counter()
    import duckdb

    out = Path(work) / "peer"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    bind_key(con, os.urandom(32))
    figures: dict = {"files": {}, "setup_seconds": time.perf_counter() - started}
    started = time.perf_counter()
    for source, query in QUERIES.items():
        began = time.perf_counter()
        target = out / f"{source}.parquet"
        con.execute(f"COPY ({query}) TO {_quoted(target)} (FORMAT parquet)", {"path": str(inputs[source])})
        figures["files"][source] = {"seconds": time.perf_counter() - began}
    seconds = time.perf_counter() - started
    for source in QUERIES:  # after the clock: how many rows each query read, and groups it wrote
        rows, groups = con.execute(
            "SELECT sum(rows)::BIGINT, count(*) FROM read_parquet(?)", [str(out / f"{source}.parquet")]
        ).fetchone()
        figures["files"][source].update(rows=rows, groups=groups)
    figures["threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    rows = sum(f["rows"] for f in figures["files"].values())
    return {**figures, "rows": rows, "seconds": seconds, "rows_per_second": rows / seconds}


# --- HMAC-SHA256 on every core -------------------------------------------------------------

ROW_GROUP = 122_880  # rows in a DuckDB row group, its unit of parallel scanning


def _best(fn, repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def duckdb_hmac_rate(values: int, threads: int, repeats: int = 3) -> float:
    """Values/s of `hmac_sql` over `values` 32-byte messages in a DuckDB table, `threads` threads.
    The messages are made before the clock starts; min() makes DuckDB compute every digest."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    bind_key(con, os.urandom(32))
    con.execute("CREATE TABLE messages AS SELECT unhex(sha256(range::VARCHAR)) AS m FROM range(?)", [values])
    query = f"SELECT min({hmac_sql('m')}) FROM messages"

    def run() -> float:
        started = time.perf_counter()
        con.execute(query).fetchall()
        return time.perf_counter() - started

    return values / _best(run, repeats)


def _hmac_worker(barrier, results, values: int, repeats: int) -> None:
    """One process's share: its messages made first, then each run started with the others'."""
    from anonymise.keyed_hash import hmac_sha256  # the fastest way from Python (see reference.py)

    key, messages = os.urandom(32), [os.urandom(32) for _ in range(values)]
    for run in range(repeats):
        barrier.wait(timeout=600)  # a sibling that died breaks the barrier instead of hanging us
        started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on Linux
        hmac_sha256(key, messages)
        results.put((run, started, time.monotonic()))


def process_hmac_rate(values: int, processes: int, repeats: int = 3) -> float:
    """Values/s of HMAC from Python in `processes` processes together, `values` split evenly: per run,
    from the first process's start to the last one's end (a barrier starts them together)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    share = values // processes
    workers = [context.Process(target=_hmac_worker, args=(barrier, results, share, repeats)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    spans: dict[int, list[tuple[float, float]]] = {}
    try:
        while sum(map(len, spans.values())) < processes * repeats:
            try:
                run, started, finished = results.get(timeout=1)
            except queue.Empty:
                if any(w.exitcode not in (None, 0) for w in workers):
                    raise RuntimeError("an HMAC worker process failed") from None
                continue
            spans.setdefault(run, []).append((started, finished))
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
    best = min(max(f for _, f in span) - min(s for s, _ in span) for span in spans.values())
    return share * processes / best


def all_core_hmac_limit(cores: int | None = None, repeats: int = 3) -> dict:
    """HMAC-SHA256 of 32-byte messages on every core, two ways; the faster is the limit.
    Two whole DuckDB row groups per core, so no thread idles waiting for another's last one;
    the processes hash the same number of values between them."""
    cores = cores or os.cpu_count() or 1
    values = 2 * ROW_GROUP * cores
    ways = {
        "duckdb_sql_per_second": duckdb_hmac_rate(values, threads=cores, repeats=repeats),
        "python_processes_per_second": process_hmac_rate(values, processes=cores, repeats=repeats),
    }
    fastest = max(ways, key=ways.get)
    return {
        "message_bytes": 32,
        "values": values,
        "cores": cores,
        **ways,
        "fastest": fastest.removesuffix("_per_second"),
        "values_per_second_all_cores": ways[fastest],
    }
