"""Benchmark the istv pipeline at a chosen size.

    .venv/bin/python -m benchmarks.run --size city [--stages parse,pseudonymise] [--out FILE]

Inputs are generated once per size, month and seed (under --work) and reused. Each stage, the
naive baseline, the machine limits, the DuckDB SQL peer and (at sizes city and national) the
whole Dagster month on a city month's inputs (issue 19 sets its target for a city) run in a
fresh 'spawn' process, so each step's peak memory is its own, as do the ED month located a
second time with what the first learned (benchmarks/relocate.py) and, at size national, the
stages of a region month (the target for a region). The baseline, the limits and the peer are
measured before the stages and after them, and the faster of the two counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

from benchmarks.dagster_month import run_dagster_month
from benchmarks.inputs import SIZES, default_work_dir, ensure_inputs, last_full_month
from benchmarks.measure import RSS_METHOD, isolated
from benchmarks.peer import duckdb_peer
from benchmarks.publish_cost import publish_cost
from benchmarks.reference import machine_limits, naive_baseline
from benchmarks.relocate import relocate
from benchmarks.report import derive, faster, table
from benchmarks.stages import FUNCTIONS, STAGES

EXTRA = ("baseline", "limits", "peer", "dagster", "region", "relocate", "publish_cost")
REFERENCES = ("baseline", "limits", "peer")  # measured before and after the stages (see report.faster)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _stages(value: str) -> list[str]:
    chosen = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(STAGES + EXTRA))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES + EXTRA)}"
        )
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", required=True, choices=SIZES, help="tiny, city, region or national")
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/<size>-<timestamp>.json)")
    parser.add_argument(
        "--stages",
        type=_stages,
        help=f"comma-separated subset of {','.join(STAGES + EXTRA)} "
        "(default: all; dagster at sizes city and national, region at national)",
    )
    parser.add_argument(
        "--work", type=Path, help="where inputs and stage outputs are kept (default: a folder under the temp dir)"
    )
    parser.add_argument("--month", default=last_full_month(), help="YYYY-MM (default: last full month)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="write a cProfile file per stage into this folder")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    args = parser.parse_args(argv)
    args.stages = args.stages or [
        *STAGES,
        "baseline",
        "limits",
        "peer",
        "publish_cost",
        "relocate",
        *(["dagster"] if args.size in ("city", "national") else []),
        *(["region"] if args.size == "national" else []),
    ]
    args.work = args.work or default_work_dir(args.size, args.month, args.seed)
    args.out = args.out or RESULTS_DIR / f"{args.size}-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        # Other work on the machine skews every figure: compare runs at a similar load.
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _code() -> dict:
    """The commit measured, and whether the working tree differed from it."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "modified_files": dirty.count("\n") + 1 if dirty else 0}


def _inputs_of(size: str, args: argparse.Namespace) -> dict[str, str]:
    """The ED and police files of a month of `size`: the run's own at its size, else generated
    once and kept like them."""
    work = args.work if size == args.size else default_work_dir(size, args.month, args.seed)
    inputs = ensure_inputs(size, args.month, args.seed, work)
    return {s: inputs[s] for s in ("ed", "police")}


def region_month(month: str, seed: int) -> dict:
    """Every stage of a region month, each in a fresh process as at size region: their seconds
    summed, and the largest peak."""
    work = default_work_dir("region", month, seed)
    inputs = ensure_inputs("region", month, seed, work)
    common = {"work": str(work), "month": month, "inputs": {s: inputs[s] for s in ("ed", "police")}}
    stages = {name: isolated(FUNCTIONS[name], **common) for name in STAGES}
    failed = [f"{name}: {figures['error']}" for name, figures in stages.items() if "error" in figures]
    if failed:
        return {"error": "; ".join(failed)}
    return {
        "rows": sum(SIZES["region"]),
        "seconds": sum(figures["seconds"] for figures in stages.values()),
        "peak_rss_mb": max(figures["peak_rss_mb"] for figures in stages.values()),
        "stages": {name: figures["seconds"] for name, figures in stages.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ed_rows, police_rows = SIZES[args.size]
    _say(
        f"size {args.size}: {ed_rows:,} ED + {police_rows:,} police rows, month {args.month}; "
        f"stages {','.join(args.stages)}; work {args.work}; results {args.out}"
    )
    if args.dry_run:
        return 0
    inputs = ensure_inputs(args.size, args.month, args.seed, args.work)
    _say(f"inputs {'reused' if inputs['cached'] else 'generated'}: {inputs['ed']}, {inputs['police']}")
    results = {
        "size": args.size,
        "month": args.month,
        "seed": args.seed,
        "created": dt.datetime.now().isoformat(),
        "machine": _machine(),
        "code": _code(),
        "rss_method": RSS_METHOD,
        "inputs": inputs,
        "stages": {},
    }
    common = {"work": str(args.work), "month": args.month, "inputs": {s: inputs[s] for s in ("ed", "police")}}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    steps = {
        "baseline": lambda: isolated(naive_baseline, ed=inputs["ed"]),
        "limits": lambda: isolated(machine_limits, ed=inputs["ed"]),
        "peer": lambda: isolated(duckdb_peer, inputs=common["inputs"], work=common["work"]),
        "dagster": lambda: isolated(run_dagster_month, month=args.month, inputs=_inputs_of("city", args)),
        "region": lambda: region_month(args.month, args.seed),
        "relocate": lambda: isolated(relocate, **common),
        "publish_cost": lambda: isolated(publish_cost, work=common["work"], month=args.month),
    }
    before = {name: steps[name]() for name in REFERENCES if name in args.stages}
    for name in (s for s in STAGES if s in args.stages):
        profile = args.profile / f"{args.size}-{name}.prof" if args.profile else None
        results["stages"][name] = figures = isolated(FUNCTIONS[name], profile_to=profile, **common)
        _say(
            f"{name}: " + (figures.get("error") or f"{figures['seconds']:.2f} s, peak {figures['peak_rss_mb']:.0f} MB")
        )
    for name in (s for s in EXTRA if s in args.stages):
        results[name] = figures = faster(name, before[name], steps[name]()) if name in before else steps[name]()
        _say(f"{name}: {figures.get('error') or 'done'}")
    results["machine"]["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    derive(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    print(f"\nresults: {args.out}")
    return (
        0 if all("error" not in v for v in [*results["stages"].values(), *(results.get(e, {}) for e in EXTRA)]) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
