"""Derived figures (rates, ratios, targets) and the printed table."""

from __future__ import annotations

TARGETS = {"peak_rss_mb": 2048, "total_vs_baseline": 10, "pseudonymise_vs_hmac_limit": 0.40, "dagster_seconds": 30}


def faster(name: str, before: dict, after: dict) -> dict:
    """A reference (the naive baseline or the machine limits) measured before and after the
    stages, at its faster: the speed of a shared machine drifts during a long run, and a
    slower reference would flatter the pipeline's ratios. Every measured rate is kept."""
    runs = [r for r in (before, after) if "error" not in r]
    if not runs:
        return after
    if name == "baseline":
        return {
            **max(runs, key=lambda r: r["rows_per_second"]),
            "rows_per_second_measured": [r["rows_per_second"] for r in runs],
        }
    best = dict(runs[-1])
    for part, rate in (("hmac", "values_per_second"), ("arrow_csv", "rows_per_second")):
        best[part] = {
            **max((r[part] for r in runs), key=lambda p: p[rate]),
            f"{rate}_measured": [r[part][rate] for r in runs],
        }
    return best


def _rate(rows: int, seconds: float | None) -> float | None:
    return rows / seconds if seconds else None


def derive(results: dict) -> dict:
    """Fill rows_per_second, the total, ratios and targets in; `rows` is the month's delivered
    rows (ED + police) for every stage, so stage rates add up like the stages' times do."""
    rows = results["inputs"]["ed_rows"] + results["inputs"]["police_rows"]
    done = {k: v for k, v in results["stages"].items() if "error" not in v}
    for figures in done.values():
        figures["rows"] = rows
        figures["rows_per_second"] = _rate(rows, figures["seconds"])
    if done:
        seconds = sum(f["seconds"] for f in done.values())
        results["total"] = {
            "stages": list(done),
            "rows": rows,
            "seconds": seconds,
            "rows_per_second": _rate(rows, seconds),
            "peak_rss_mb": max(f["peak_rss_mb"] for f in done.values()),
        }
    ratios, base = {}, results.get("baseline", {}).get("rows_per_second")
    if base:
        for name, figures in [*done.items(), ("total", results.get("total"))]:
            if figures:
                ratios[f"{name}_vs_baseline"] = figures["rows_per_second"] / base
    limit = results.get("limits", {}).get("hmac", {}).get("values_per_second")
    pseudo = done.get("pseudonymise")
    if limit and pseudo:
        pseudo["values_per_second"] = pseudo["values_pseudonymised"] / pseudo["seconds"]
        ratios["pseudonymise_vs_hmac_limit"] = pseudo["values_per_second"] / limit
    results["ratios"] = ratios
    results["targets"] = _targets(results)
    return results


def _targets(results: dict) -> dict:
    met = {}
    if "total" in results:
        met["peak_rss_under_2gib"] = results["total"]["peak_rss_mb"] < TARGETS["peak_rss_mb"]
    for name in ("total_vs_baseline", "pseudonymise_vs_hmac_limit"):
        if name in results["ratios"]:
            met[f"{name}_at_least_{TARGETS[name]:g}"] = results["ratios"][name] >= TARGETS[name]
    if "seconds" in results.get("dagster", {}):
        met["dagster_month_under_30s"] = results["dagster"]["total_seconds"] < TARGETS["dagster_seconds"]
    return met


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


COLUMNS = ("stage", "seconds", "rows/s", "peak RSS MB", "x baseline", "% HMAC limit")


def table(results: dict) -> str:
    inputs, ratios = results["inputs"], results["ratios"]
    lines = [
        (
            f"istv benchmark, size {results['size']}: {inputs['ed_rows']:,} ED + {inputs['police_rows']:,} "
            f"police rows, month {results['month']}, seed {results['seed']}"
        ),
        "rows/s counts the month's delivered rows (ED + police) at every stage; peak RSS: " + results["rss_method"],
        "",
    ]
    widths = (26, 9, 12, 12, 11, 13)

    def row(cells):
        return "".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    lines += [row(COLUMNS), "-" * sum(widths)]
    for name, figures in [*results["stages"].items(), ("total", results.get("total"))]:
        if not figures:
            continue
        if "error" in figures:
            lines.append(row((name, "failed", "", "", "", "")) + "  " + figures["error"].splitlines()[-1][:80])
            continue
        pct = ratios.get("pseudonymise_vs_hmac_limit") if name == "pseudonymise" else None
        lines.append(
            row(
                (
                    name,
                    _num(figures["seconds"], 2),
                    _num(figures["rows_per_second"]),
                    _num(figures["peak_rss_mb"]),
                    _num(ratios.get(f"{name}_vs_baseline"), 2),
                    _num(pct * 100 if pct is not None else None, 1),
                )
            )
        )
    base = results.get("baseline")
    if base and "error" not in base:
        lines.append(
            row(
                (
                    "naive baseline (ED only)",
                    _num(base["seconds"], 2),
                    _num(base["rows_per_second"]),
                    _num(base["peak_rss_mb"]),
                    "1.00",
                    "",
                )
            )
        )

    limits = results.get("limits")
    if limits and "error" not in limits:
        h, a = limits["hmac"], limits["arrow_csv"]
        lines += [
            "",
            (
                f"limits: HMAC-SHA256 {_num(h['values_per_second'])} values/s (32-byte messages; "
                f"hmac.new().hexdigest() {_num(h['hmac_new_hexdigest_per_second'])}/s); "
                f"pyarrow.csv.read_csv on the ED file {_num(a['rows_per_second'])} rows/s, "
                f"{_num(a['mb_per_second'], 1)} MB/s"
            ),
        ]
    measured = [
        (
            f"baseline {' and '.join(_num(r) for r in base.get('rows_per_second_measured', []))} rows/s"
            if base and len(base.get("rows_per_second_measured", [])) > 1
            else None
        ),
        (
            f"HMAC {' and '.join(_num(r) for r in limits['hmac'].get('values_per_second_measured', []))} values/s"
            if limits and "error" not in limits and len(limits["hmac"].get("values_per_second_measured", [])) > 1
            else None
        ),
    ]
    if any(measured):
        lines.append("the faster of runs before and after the stages counts: " + ", ".join(m for m in measured if m))
    for name in ("baseline", "limits", "dagster"):
        if "error" in results.get(name, {}):
            lines.append(f"{name}: failed: {results[name]['error'].splitlines()[-1][:120]}")
    dagster = results.get("dagster")
    if dagster and "error" not in dagster:
        lines.append(
            f"dagster month ({results['size']}): {dagster['total_seconds']:.1f} s "
            f"({dagster['import_seconds']:.1f} s loading definitions + {dagster['seconds']:.1f} s run_month); "
            f"peak RSS {_num(dagster['peak_rss_mb'])} MB; target < {dagster['target_seconds']} s"
        )
    if results["targets"]:
        lines.append("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in results["targets"].items()))
    return "\n".join(lines)
