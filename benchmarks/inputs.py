"""Seeded synthetic inputs per size, generated once and reused while the generator is unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import time
from pathlib import Path

SIZES = {  # (ED rows, police rows)
    "tiny": (200, 600),
    "city": (1_000, 3_000),
    "region": (100_000, 300_000),
    "national": (1_000_000, 10_000_000),
}
GENERATOR = Path(__file__).resolve().parents[1] / "pipelines" / "synthetic.py"


def last_full_month(today: dt.date | None = None) -> str:
    """The latest month the generator accepts: its arrivals run two days past the month's end."""
    first = ((today or dt.date.today()) - dt.timedelta(days=3)).replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


def default_work_dir(size: str, month: str, seed: int) -> Path:
    return Path(tempfile.gettempdir()) / "istv-bench" / f"{size}-{month}-seed{seed}"


def _generator_version() -> str:
    return hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:12]


def _generate(size: str, month: str, seed: int, out_dir: str) -> dict:
    from pipelines.synthetic import generate_month

    ed_rows, police_rows = SIZES[size]
    started = time.perf_counter()
    paths = generate_month(month, Path(out_dir), seed=seed, ed_rows=ed_rows, police_rows=police_rows)
    return {"generate_seconds": time.perf_counter() - started, "paths": {k: str(v) for k, v in paths.items()}}


def ensure_inputs(size: str, month: str, seed: int, work: Path) -> dict:
    """{"ed": path, "police": path, "ed_rows", "police_rows", "ed_bytes", "police_bytes", "cached"}."""
    from benchmarks.measure import isolated

    meta_path = work / "inputs" / "meta.json"
    wanted = {"size": size, "month": month, "seed": seed, "generator": _generator_version()}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted and all(Path(meta[s]).exists() for s in ("ed", "police")):
            return {**meta, "cached": True}
    made = isolated(_generate, size=size, month=month, seed=seed, out_dir=str(work / "inputs"))
    if "error" in made:
        raise RuntimeError(f"could not generate the {size} inputs: {made['error']}")
    ed_rows, police_rows = SIZES[size]
    meta = {
        **wanted,
        **made["paths"],
        "ed_rows": ed_rows,
        "police_rows": police_rows,
        "generate_seconds": round(made["generate_seconds"], 3),
        "generate_peak_rss_mb": made["peak_rss_mb"],
    }
    meta.update({f"{s}_bytes": Path(meta[s]).stat().st_size for s in ("ed", "police")})
    meta_path.write_text(json.dumps(meta, indent=2))
    return {**meta, "cached": False}
