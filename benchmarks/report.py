"""Derived figures (rates, ratios, targets) and the printed table."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    key: str  # its name in results["targets"] (met or not) and results["target_checks"]
    label: str
    figure: Callable[[dict], float | None]
    comparison: str  # "<", "<=" or ">="
    bound: float
    unit: str  # "x", "%" (a fraction), "MB" or "s"


def _peak_rss(results: dict) -> float | None:
    return results.get("total", {}).get("peak_rss_mb")


def _region_seconds(results: dict) -> float | None:
    if results.get("size") == "region":
        return results.get("total", {}).get("seconds")
    return results.get("region", {}).get("seconds")


_COMPARE = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}
_WORDS = {"<": "under", "<=": "at most", ">=": "at least"}

# Issue 19's yardsticks: the peer a data engineer would write, and HMAC on every core.
TARGETS_ISSUE_19 = (
    Target(
        "total_vs_peer_at_most_2",
        "month end to end, in multiples of the DuckDB SQL peer's time",
        lambda r: r["ratios"].get("total_vs_peer"),
        "<=",
        2,
        "x",
    ),
    Target(
        "pseudonymise_vs_hmac_all_cores_at_least_0.6",
        "pseudonymise, share of the all-core HMAC limit",
        lambda r: r["ratios"].get("pseudonymise_vs_hmac_all_cores"),
        ">=",
        0.60,
        "%",
    ),
    Target("peak_rss_under_1gib", "peak RSS of any stage", _peak_rss, "<", 1024, "MB"),
    Target(
        "dagster_city_month_under_5s",
        "a city month through the Dagster graph (run_month; the working folder's Dagster instance exists)",
        lambda r: r.get("dagster", {}).get("seconds"),
        "<",
        5,
        "s",
    ),
    Target("region_month_under_3s", "a region month's stages", lambda r: _region_seconds(r), "<", 3, "s"),
    Target(
        "second_month_locates_in_a_fifth",
        "a second ED month with the same place texts, its locating time over the first's",
        lambda r: r.get("relocate", {}).get("second_vs_first"),
        "<",
        0.2,
        "%",
    ),
)
# The targets before it, kept so that their figures stay comparable from run to run.
TARGETS_EARLIER = (
    Target("peak_rss_under_2gib", "peak RSS of any stage", _peak_rss, "<", 2048, "MB"),
    Target(
        "total_vs_baseline_at_least_10",
        "month end to end, rows/s in multiples of the naive pandas baseline's",
        lambda r: r["ratios"].get("total_vs_baseline"),
        ">=",
        10,
        "x",
    ),
    Target(
        "pseudonymise_vs_hmac_limit_at_least_0.4",
        "pseudonymise, share of the single-core HMAC limit",
        lambda r: r["ratios"].get("pseudonymise_vs_hmac_limit"),
        ">=",
        0.40,
        "%",
    ),
    Target(
        "dagster_month_under_30s",
        "the whole Dagster month",
        lambda r: r.get("dagster", {}).get("total_seconds"),
        "<",
        30,
        "s",
    ),
)
TARGETS = TARGETS_ISSUE_19 + TARGETS_EARLIER

# Each reference's headline rate, by part: the faster run of each part counts.
_REFERENCE_RATES = {
    "baseline": {None: "rows_per_second"},
    "peer": {None: "rows_per_second"},
    "limits": {
        "hmac": "values_per_second",
        "hmac_all_cores": "values_per_second_all_cores",
        "arrow_csv": "rows_per_second",
    },
}


def faster(name: str, before: dict, after: dict) -> dict:
    """A reference (the naive baseline, the machine limits, the DuckDB SQL peer) measured before
    and after the stages, at its faster: the speed of a shared machine drifts during a long run,
    and a slower reference would flatter the pipeline's ratios. Every measured rate is kept."""
    runs = [r for r in (before, after) if "error" not in r]
    if not runs:
        return after
    rates = _REFERENCE_RATES[name]
    if None in rates:  # one rate for the whole run
        rate = rates[None]
        return {**max(runs, key=lambda r: r[rate]), f"{rate}_measured": [r[rate] for r in runs]}
    best = dict(runs[-1])
    for part, rate in rates.items():
        if all(part in r for r in runs):
            best[part] = {
                **max((r[part] for r in runs), key=lambda p: p[rate]),
                f"{rate}_measured": [r[part][rate] for r in runs],
            }
    return best


def _rate(rows: int, seconds: float | None) -> float | None:
    return rows / seconds if seconds else None


def _ok(name: str, results: dict) -> dict:
    figures = results.get(name) or {}
    return {} if "error" in figures else figures


def derive(results: dict) -> dict:
    """Fill rows_per_second, the total, ratios and targets in; `rows` is the month's delivered
    rows (ED + police) for every stage, so stage rates add up like the stages' times do.
    x_vs_baseline is a speed ratio (higher is faster), x_vs_peer a time ratio (lower is faster)."""
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
    measured = [*done.items(), ("total", results.get("total"))]
    ratios, base = {}, _ok("baseline", results).get("rows_per_second")
    if base:
        for name, figures in [*measured, ("peer", _ok("peer", results))]:
            if figures:
                ratios[f"{name}_vs_baseline"] = figures["rows_per_second"] / base
    peer = _ok("peer", results).get("seconds")
    if peer:
        for name, figures in measured:
            if figures:
                ratios[f"{name}_vs_peer"] = figures["seconds"] / peer
    limits, pseudo = _ok("limits", results), done.get("pseudonymise")
    if limits and pseudo:
        pseudo["values_per_second"] = pseudo["values_pseudonymised"] / pseudo["seconds"]
        ratios["pseudonymise_vs_hmac_limit"] = pseudo["values_per_second"] / limits["hmac"]["values_per_second"]
        all_cores = limits.get("hmac_all_cores", {}).get("values_per_second_all_cores")
        if all_cores:
            ratios["pseudonymise_vs_hmac_all_cores"] = pseudo["values_per_second"] / all_cores
    results["ratios"] = ratios
    results["target_checks"] = _check_targets(results)
    results["targets"] = {k: v["met"] for k, v in results["target_checks"].items()}
    return results


def _check_targets(results: dict) -> dict:
    """Each target with a figure in this run: the figure, the bound, met, and by how much it was
    missed (in the figure's unit; 0 when met)."""
    checks = {}
    for target in TARGETS:
        figure = target.figure(results)
        if figure is None:
            continue
        met = _COMPARE[target.comparison](figure, target.bound)
        checks[target.key] = {
            "label": target.label,
            "figure": figure,
            "comparison": target.comparison,
            "target": target.bound,
            "unit": target.unit,
            "met": met,
            "missed_by": 0 if met else abs(figure - target.bound),
            "issue_19": target in TARGETS_ISSUE_19,
        }
    return checks


def _in_unit(value: float, unit: str, difference: bool = False) -> str:
    if unit == "%":
        return f"{value * 100:.1f} points" if difference else f"{value * 100:.1f}%"
    if unit == "x":
        return f"{value:,.2f}x"
    return f"{value:,.0f} MB" if unit == "MB" else f"{value:,.1f} s"


def _bound(value: float, unit: str) -> str:
    return f"{value * 100:g}%" if unit == "%" else f"{value:g}x" if unit == "x" else _in_unit(value, unit)


def _target_line(check: dict) -> str:
    """'label: figure; target at most N: met' or '... MISSED by D (how far off, plainly)'."""
    unit, figure, bound = check["unit"], check["figure"], check["target"]
    verdict = "met"
    if not check["met"]:
        if check["comparison"] == ">=":
            how_far = f"reaches {figure / bound:.0%} of the target"
        elif figure >= 2 * bound:
            how_far = f"{figure / bound:.1f} times the target"
        else:
            how_far = f"{figure / bound - 1:.0%} over the target"
        verdict = f"MISSED by {_in_unit(check['missed_by'], unit, difference=True)} ({how_far})"
    target = f"{_WORDS[check['comparison']]} {_bound(bound, unit)}"
    return f"  {check['label']}: {_in_unit(figure, unit)}; target {target}: {verdict}"


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


COLUMNS = ("stage", "seconds", "rows/s", "peak RSS MB", "x baseline", "% HMAC limit", "x peer time", "% all-core HMAC")
WIDTHS = (26, 9, 12, 12, 11, 13, 12, 16)


def _reference_row(label: str, figures: dict, vs_baseline: str, vs_peer: str) -> str:
    """A reference's line of the table: its own figures, and where it stands to the other one."""
    speed = (_num(figures["seconds"], 2), _num(figures["rows_per_second"]), _num(figures["peak_rss_mb"]))
    return _row((label, *speed, vs_baseline, "", vs_peer, ""))


def _row(cells) -> str:
    return "".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, WIDTHS)))


def _pct(value: float | None) -> str:
    return _num(value * 100 if value is not None else None, 1)


def table(results: dict) -> str:
    inputs, ratios = results["inputs"], results["ratios"]
    lines = [
        (
            f"istv benchmark, size {results['size']}: {inputs['ed_rows']:,} ED + {inputs['police_rows']:,} "
            f"police rows, month {results['month']}, seed {results['seed']}"
        ),
        "rows/s counts the month's delivered rows (ED + police) at every stage; peak RSS: " + results["rss_method"],
        "x baseline: rows/s over the naive pandas baseline's (higher is faster); "
        "x peer time: seconds over the DuckDB SQL peer's (lower is faster)",
        "",
    ]
    lines += [_row(COLUMNS), "-" * sum(WIDTHS)]
    for name, figures in [*results["stages"].items(), ("total", results.get("total"))]:
        if not figures:
            continue
        if "error" in figures:
            lines.append(_row((name, "failed", "", "", "", "", "", "")) + "  " + figures["error"].splitlines()[-1][:80])
            continue
        pseudo = name == "pseudonymise"
        lines.append(
            _row(
                (
                    name,
                    _num(figures["seconds"], 2),
                    _num(figures["rows_per_second"]),
                    _num(figures["peak_rss_mb"]),
                    _num(ratios.get(f"{name}_vs_baseline"), 2),
                    _pct(ratios.get("pseudonymise_vs_hmac_limit") if pseudo else None),
                    _num(ratios.get(f"{name}_vs_peer"), 2),
                    _pct(ratios.get("pseudonymise_vs_hmac_all_cores") if pseudo else None),
                )
            )
        )
    base, peer = _ok("baseline", results), _ok("peer", results)
    if base:
        lines.append(_reference_row("naive baseline (ED only)", base, vs_baseline="1.00", vs_peer=""))
    if peer:
        lines.append(_reference_row("DuckDB SQL peer", peer, _num(ratios.get("peer_vs_baseline"), 2), "1.00"))

    limits = _ok("limits", results)
    if limits:
        h, a = limits["hmac"], limits["arrow_csv"]
        lines += [
            "",
            (
                f"limits: HMAC-SHA256 on one core {_num(h['values_per_second'])} values/s (32-byte messages; "
                f"hmac.new().hexdigest() {_num(h['hmac_new_hexdigest_per_second'])}/s, "
                f"hmac.digest {_num(h['hmac_digest_per_second'])}/s)"
            ),
        ]
        every = limits.get("hmac_all_cores")
        if every:
            cores = every["cores"]
            lines.append(
                f"        HMAC-SHA256 on all {cores} cores {_num(every['values_per_second_all_cores'])} values/s, "
                f"the faster of DuckDB SQL on {cores} threads {_num(every['duckdb_sql_per_second'])}/s "
                f"and OpenSSL's SHA-256 from Python (pads hashed once) in {cores} processes "
                f"{_num(every['python_processes_per_second'])}/s"
            )
        lines.append(
            f"        pyarrow.csv.read_csv on the ED file {_num(a['rows_per_second'])} rows/s, "
            f"{_num(a['mb_per_second'], 1)} MB/s"
        )
    if peer:
        files = ", ".join(f"{s} {_num(f['seconds'], 2)} s" for s, f in peer["files"].items())
        lines += [
            f"peer: one DuckDB query per file on {peer['threads']} threads ({files}): read_csv, HMAC-SHA256 of the "
            "identifiers in SQL, GROUP BY grid cell and month, Parquet out;",
            "      no validation, free-text location, leak scan or disclosure control (benchmarks/peer.py)",
        ]
    measured = [
        _measured("baseline", base.get("rows_per_second_measured"), "rows/s"),
        _measured("peer", peer.get("rows_per_second_measured"), "rows/s"),
        _measured("HMAC", limits.get("hmac", {}).get("values_per_second_measured"), "values/s"),
        _measured(
            "all-core HMAC",
            limits.get("hmac_all_cores", {}).get("values_per_second_all_cores_measured"),
            "values/s",
        ),
    ]
    if any(measured):
        lines.append("the faster of runs before and after the stages counts: " + ", ".join(m for m in measured if m))
    costs = _ok("publish_cost", results)
    if costs:
        from benchmarks.publish_cost import lines as publish_lines

        lines += publish_lines(costs)
    for name in ("baseline", "limits", "peer", "dagster", "region", "relocate", "publish_cost"):
        if "error" in results.get(name, {}):
            lines.append(f"{name}: failed: {results[name]['error'].splitlines()[-1][:120]}")
    dagster = _ok("dagster", results)
    if dagster:
        lines.append(
            f"dagster month (city): {dagster['total_seconds']:.1f} s "
            f"({dagster['import_seconds']:.1f} s loading definitions + "
            f"{dagster.get('instance_seconds', 0.0):.1f} s creating the working folder's Dagster instance, once + "
            f"{dagster['seconds']:.1f} s run_month); "
            f"peak RSS {_num(dagster['peak_rss_mb'])} MB; target < {dagster['target_seconds']} s"
        )
    region = _ok("region", results)
    if region:
        each = ", ".join(f"{name} {seconds:.2f}" for name, seconds in region["stages"].items())
        lines.append(
            f"region month ({region['rows']:,} rows), its stages each in a fresh process: "
            f"{region['seconds']:.1f} s ({each}); peak RSS {_num(region['peak_rss_mb'])} MB"
        )
    relocated = _ok("relocate", results)
    if relocated:
        lines.append(
            f"locating the ED month's {relocated['rows']:,} place texts: {relocated['first_seconds']:.1f} s the "
            f"first time, {relocated['second_seconds']:.1f} s again with the shapes it learned"
        )
    checks = results.get("target_checks", {})
    for issue_19, heading in ((True, "targets (issue 19):"), (False, "earlier targets:")):
        chosen = [c for c in checks.values() if c["issue_19"] == issue_19]
        if chosen:
            lines += ["", heading, *(_target_line(c) for c in chosen)]
    missed = [k for k, c in checks.items() if not c["met"]]
    if checks:
        lines.append(f"targets missed: {', '.join(missed)}" if missed else "every target met")
        if results["size"] != "national":
            lines.append("(the targets are set for the national month; at smaller sizes fixed costs dominate)")
    return "\n".join(lines)


def _measured(what: str, rates: list | None, unit: str) -> str | None:
    if not rates or len(rates) < 2:
        return None
    return f"{what} {' and '.join(_num(r) for r in rates)} {unit}"
