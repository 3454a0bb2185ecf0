"""Analysts read the warehouse from other processes while runs publish: no lock errors, and
never a half-published state."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from tests.conftest import readers_running
from tests.unit.warehouse.test_publish import MONTH, _tables
from warehouse.publish import connect_read_only, publish


def _reader(path: str, stop, results) -> None:
    reads, errors, states = 0, [], set()
    while not stop.is_set():
        try:
            with connect_read_only(__import__("pathlib").Path(path)) as con:
                cells = con.execute("SELECT ed_assaults FROM hotspot_cells").fetchall()
                trend = con.execute("SELECT ed_assaults FROM monthly_trend").fetchall()
            # Both tables come from one publish: a mixed pair would be a half-published state.
            states.add((tuple(cells), tuple(trend)))
            reads += 1
        except Exception as exc:  # any error at all is a failure of the design
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((reads, errors, states))


pytestmark = pytest.mark.slow


def test_readers_in_other_processes_never_fail_or_see_half_a_publish(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    small, large = _tables(12), _tables(30)
    publish(warehouse, MONTH, small)
    context = mp.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    readers = [context.Process(target=_reader, args=(str(warehouse), stop, results)) for _ in range(2)]
    with readers_running(readers, stop):
        time.sleep(1.5)  # let the readers start up (spawn re-imports the project)
        for i in range(16):
            publish(warehouse, MONTH, large if i % 2 == 0 else small)
        stop.set()
        outcomes = [results.get(timeout=60) for _ in readers]
    total_reads = sum(reads for reads, _, _ in outcomes)
    errors = [e for _, errs, _ in outcomes for e in errs]
    states = set().union(*(s for _, _, s in outcomes))
    assert errors == []
    assert total_reads > 16
    assert states <= {(((10,),), ((10,),)), (((30,),), ((30,),))}
    assert len(states) == 2  # readers really saw both versions come and go
