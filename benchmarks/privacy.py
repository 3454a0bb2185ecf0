"""Attack the published tables and print how much each attack recovers, beside the utility the
protection leaves: the cell-key method (the agreement's default) and suppress_and_round side by side.

    make bench-privacy            (or: .venv/bin/python -m benchmarks.privacy [--trials N] ...)

Data: the bundled data.police.uk files (South Wales, every month in data/police_uk/, exact public
counts) and synthetic ED assaults placed near them (benchmarks/attacks/). The attacks, the
intruder, every figure's definition and the requirement are described in benchmarks/attacks/;
the definitions are printed with the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import attacks as A

DEFINITIONS = f"""\
Definitions (counts attacked: true protected counts 1-7, one per attacked figure):
  exact (face value)  the published figure (public part subtracted) equals the true count
  exact (Bayes)       the intruder's most probable value 1-7 given every observation the attack uses, under
                      the known perturbation law, with the guesser's prior (the distribution of the
                      attacked counts); ties to the smaller value
  pinned              the feasible set is one value: recovered exactly and with certainty
  narrowed            the feasible set (values v in 1..7 under which every observation has positive
                      probability, from the perturbation table's support / the suppression and rounding
                      rules) leaves out at least one value of 1..7
  |F|                 mean size of the feasible set (7: nothing learnt)
  guess               share of attacked counts equal to the most common true value among them (an
                      intruder who always guesses that value, without any release; attack 2, a sample of
                      corrections: the most common value of the population drawn from, also the Bayes prior)
  vs guess            the better exact share minus guess, in percentage points ('<=' when not above)
  criterion           the requirement, asserted by tests/attacks for each attack on the default (cell_key):
                      (a) no count pinned and (b) the better exact share (Bayes or face value) at most
                      {100 * A.TOLERANCE:g} percentage points above guess. Any release carrying information lets a
                      Bayes-optimal attacker, whose prior is the guesser's, gain a little over it: hence
                      the stated tolerance. Attack 2 also: cell, hour of week and method each named at
                      most {100 * A.TOLERANCE:g} percentage points more often than by guessing."""


def _pct(x) -> str:
    return "   -  " if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:5.1f}%"


def _say(text: str = "") -> None:
    print(text, flush=True)


def _verdict(failures: list[str]) -> str:
    return "FAILS" if failures else "meets"


def _score_table(scores: list[A.Score]) -> None:
    header = (
        f"{'attack':<32} {'setting':<52} {'counts':>6} {'exact':>7} {'exact':>7} {'pinned':>7} "
        f"{'narrowed':>8} {'|F|':>5} {'guess':>7} {'vs guess':>9} {'criterion':>9}"
    )
    _say(header)
    _say(f"{'':<32} {'':<52} {'':>6} {'(face)':>7} {'(Bayes)':>7}")
    _say("-" * len(header))
    for s in scores:
        gain = s.exact - s.baseline
        verdict = "<=" if gain <= 0 else f"+{100 * gain:.1f} pt"
        _say(
            f"{s.attack:<32} {s.setting:<52} {s.attacked:>6} {_pct(s.exact_published):>7} {_pct(s.exact_bayes):>7} "
            f"{_pct(s.pinned):>7} {_pct(s.narrowed):>8} {s.mean_feasible:>5.2f} {_pct(s.baseline):>7} {verdict:>9} "
            f"{_verdict(A.criterion_failures(s)):>9}"
        )


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.privacy", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ed-rows", type=int, default=1000, help="synthetic ED assaults a month (default 1000, size city)"
    )
    parser.add_argument(
        "--ledger-trials",
        type=int,
        default=200,
        help="one-row corrections of each kind (remove, add) published as production publishes them "
        "(Corrections ledger): one build_tables call each (default 200, a random subsample; 0: as "
        "many as the month's ED rows, every attacked row removed)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=300,
        help="one-row corrections of each kind published without the ledger (the contrast), built "
        "together (default 300, a random subsample; 0: as many as the month's ED rows)",
    )
    parser.add_argument("--reruns", type=int, default=20, help="re-runs averaged in attack 4 (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--police-dir", type=Path, default=None, help="data.police.uk files (default data/police_uk)")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also run the cell-key parameter sweep (six parameter pairs, attack 2 with the ledger on "
        "--ledger-trials removals each: several minutes)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    folder = args.police_dir or A.police_uk_dir()
    months = [A.make_month(m, args.ed_rows, seed=args.seed, folder=folder) for m in A.police_uk_months(folder)]
    if not months:
        print(f"no South Wales data.police.uk files in {folder}", file=sys.stderr)
        return 1
    default = A.default_policy()
    old = A.suppress_and_round(default)
    areas = A.hotspot_areas()
    _say("Privacy attacks on the published tables")
    _say(
        f"data: data.police.uk South Wales {', '.join(m.police.month.strftime('%Y-%m') for m in months)} "
        f"from {folder} "
        f"({', '.join(str(len(m.police.rows)) for m in months)} violence rows in the agreement's area) + "
        f"{args.ed_rows} synthetic ED assaults a month (seed {args.seed})"
    )
    _say(
        f"agreement: {A.agreement().id} v{A.agreement().version}; cell_key max_deviation {default.max_deviation}, "
        f"variance {default.variance:g}, cell minimum {default.cell_minimum}, area minimum {default.area_minimum}; "
        f"suppress_and_round threshold {old.suppression_threshold}, "
        f"base {old.rounding_base}; "
        f"public sources: {', '.join(A.public_sources()) or 'none'}; hotspot_areas resolutions "
        f"{', '.join(map(str, areas.resolutions))} over {', '.join(map(str, areas.windows_months))} months; "
        f"corrected releases: figures moved by fewer than {default.suppression_threshold} records "
        "keep their released value"
    )
    _say()

    timings = {}
    t = time.perf_counter()
    before = dataclasses.replace(default, cell_minimum=0)  # the default before the agreement's cell minimum
    released = {
        "cell_key": A.monthly_releases(months, default),
        "cell_key, no cell minimum (before)": A.monthly_releases(months, before),
        "suppress_and_round": A.monthly_releases(months, old),
        "suppress_and_round, police not public (old)": A.monthly_releases(months, old, public=()),
    }
    timings["monthly releases"] = time.perf_counter() - t

    scores: list[A.Score] = []
    requirement: dict[str, list[str]] = {}  # each attack on the default policy -> its failures
    t = time.perf_counter()
    police = [m.police for m in months]
    for setting, releases in released.items():
        scores.append(A.public_subtraction(releases, police, setting, public_split="not public" not in setting))
    requirement[scores[0].attack] = A.criterion_failures(scores[0])
    timings["1 public-data subtraction"] = time.perf_counter() - t

    t = time.perf_counter()
    corrections = {}
    month = months[0]
    ledger_trials, trials = (k if k > 0 else args.ed_rows for k in (args.ledger_trials, args.trials))
    for setting, policy, ledger, count in (
        ("cell_key + ledger (production)", default, True, ledger_trials),
        ("cell_key, no ledger (old)", default, False, trials),
        ("suppress_and_round, no ledger (old)", old, False, trials),
    ):
        results = A.one_row_corrections(month, policy, count, seed=args.seed, ledger=ledger, setting=setting)
        for mode, result in results.items():
            corrections[setting, mode] = result
            scores.append(result.pin)
            if ledger:
                scores.append(result.first_only)
                requirement[result.pin.attack] = result.failures()
    for setting, policy in (("cell_key", default), ("cell_key, no cell minimum (before)", before)):
        for (known, _), result in A.known_incident(months, policy, seed=args.seed, setting=setting).items():
            scores.append(result)
            if policy is default and known == "cell":  # places; an hour of the week is the whole area's
                requirement[result.attack] = A.criterion_failures(result)
    timings["2 one-row corrections"] = time.perf_counter() - t

    t = time.perf_counter()
    for setting in ("cell_key", "suppress_and_round"):
        scores.append(A.linear_bounds(released[setting], setting))
        if setting == "cell_key":
            requirement[scores[-1].attack] = A.criterion_failures(scores[-1])
    timings["3 linear bounds"] = time.perf_counter() - t

    t = time.perf_counter()
    identical = {}
    for base in (default, old):
        for seeded in (True, False):
            score, same = A.dp_averaging(month, args.reruns, seeded, scale=1.0, base=base)
            scores.append(score)
            identical[score.setting] = same
            if base is default and seeded:
                requirement[score.attack + " (DP scale 1, seeded)"] = A.criterion_failures(score)
    timings["4 DP averaging"] = time.perf_counter() - t

    _say(DEFINITIONS)
    _say()
    _say("PRIVACY: share of true counts 1-7 recovered (higher is worse)")
    _score_table(scores)
    _say()
    _say("Notes:")
    _say(
        f"  1: every cell of hotspot_cells with a true ED count 1-7, all {len(months)} months; the intruder's police "
        "count per cell is counted from the open-data file itself. 'police not public (old)': police_uk protected "
        "together with ED, as before c23185c."
    )
    for s in scores:
        if s.attack.startswith("1") and "agree" in s.extra:
            _say(
                f"     {s.setting}: published combined - open-data police equals the published ED column in "
                f"{_pct(s.extra['agree'])} of attacked cells"
            )
    _say(
        f"  2: month {month.month:%Y-%m}; each correction removes one ED row of the month, or adds one new synthetic "
        "row, in a cell holding 1-7 ED records with the row (drawn at random among those: the counts attacked), and "
        "is published on its own and compared with the month's first release; the intruder knows the corrected cell, "
        "the direction and the publication rule. 'ledger (production)': built as production publishes a re-delivered "
        "month, one build_tables call per correction with Corrections(threshold, what the pipeline kept of the first "
        "release), every table compared; 'first release alone': the same intruder without the corrected release (what "
        "the correction adds is the difference); a random subsample of "
        f"{corrections['cell_key + ledger (production)', 'remove'].trials} removals and "
        f"{corrections['cell_key + ledger (production)', 'add'].trials} additions. 'no ledger (old)': each version "
        f"published afresh, {corrections['cell_key, no ledger (old)', 'remove'].trials} of each kind, built together "
        "(hotspot_areas and coverage not compared)."
    )
    _say(
        f"  2 known cell: all {len(months)} months, every row of each correction population (every ED row in a "
        "cell of 1-7 records, or a new synthetic row making one), attacked from the first release alone: with the "
        "ledger, all a one-row correction tells. 'no cell minimum (before)': the agreement's cell minimum set to 0. "
        "2 known hour of week: the same for the hour_of_week figure, a count of the whole area (no place), which keeps "
        "its small counts: reported, not part of the requirement."
    )
    for s in scores:
        if s.attack.startswith("3"):
            _say(f"  3 ({s.setting}): {s.note}")
    for s in scores:
        if s.attack.startswith("4"):
            _say(f"  4 ({s.setting}): {s.note}; byte-identical re-runs: {identical[s.setting]}")
    _say()
    _say(
        "PRIVACY: one-row corrections, what the intruder learns of the changed row "
        "(named: the figure that changed in each table; if none did, the largest published figure)"
    )
    header = (
        f"{'setting':<36} {'change':<7} {'trials':>6} {'visible':>8} {'cell':>7} {'(guess)':>8} {'hour/wk':>8} "
        f"{'(guess)':>8} {'method':>7} {'(guess)':>8} {'all 3':>7} {'criterion':>9}"
    )
    _say(header)
    _say("-" * len(header))
    for (setting, mode), r in corrections.items():
        _say(
            f"{setting:<36} {mode:<7} {r.trials:>6} {_pct(r.visible):>8} {_pct(r.learned['cell']):>7} "
            f"{_pct(r.baseline['cell']):>8} {_pct(r.learned['hour_of_week']):>8} "
            f"{_pct(r.baseline['hour_of_week']):>8} {_pct(r.learned['method']):>7} "
            f"{_pct(r.baseline['method']):>8} {_pct(r.all_three):>7} {_verdict(r.attribute_failures()):>9}"
        )
    _say(
        "  visible: some published figure differs between the two releases; guess: share of the changed rows in "
        "the most "
        "common cell / hour of week / method; all 3: cell, hour and method all named; criterion: each attribute named "
        f"at most {100 * A.TOLERANCE:g} percentage points more often than guessed"
    )
    _say()

    t = time.perf_counter()
    compared = (
        "cell_key",
        "cell_key, no cell minimum (before)",
        "suppress_and_round",
        "suppress_and_round, police not public (old)",
    )
    utilities = {setting: A.utility(released[setting], setting) for setting in compared}
    timings["utility"] = time.perf_counter() - t
    _say(
        f"UTILITY against the unprotected truth, default agreement, real South Wales police data ({len(months)} months)"
    )
    rows = [
        ("incidents counted in a usable figure of their own source", "visible_share", True),
        ("incidents in cells showing a usable combined count", "usable_share", True),
        ("published count figures withheld", "withheld_share", True),
        ("mean absolute error per published figure (all tables)", "mae_all", False),
        ("mean absolute error per published figure (hotspot_cells)", "mae_cells", False),
        ("top-20 hotspot recall, monthly (mean over months)", "recall_monthly", True),
        ("top-20 hotspot recall, 3-month window", "recall_3_months", True),
    ]
    _say(
        f"{'measure':<58} {'cell_key':>10} {'no cell minimum':>16} {'suppress_and_round':>19} "
        f"{'(police not public)':>20}"
    )
    _say("-" * 127)
    for label, name, share in rows:
        values = [getattr(utilities[s], name) for s in compared]
        shown = [_pct(v) if share else f"{v:.3f}" for v in values]
        _say(f"{label:<58} {shown[0]:>10} {shown[1]:>16} {shown[2]:>19} {shown[3]:>20}")
    _say(
        "  own source: a cell's ED assaults and police violence, each counted where its own figure is usable "
        "(the issue's '215 of 1,218 crimes'); combined: the cell's combined figure. "
        "usable: cell_key, published >= 1; suppress_and_round, not suppressed. Error: over the "
        "figures published (withheld ones excluded). Recall: expected share of the 20 cells with the highest "
        "published combined count (withheld as 0, ties at the 20th broken at random) whose true count is at least "
        "the 20th highest true count. "
        f"3-month window: hotspot_areas, resolution {A.agreement().spatial.h3_resolution}, "
        f"ending {months[-1].month:%Y-%m}."
    )
    _say()

    _say(
        f"REQUIREMENT on the default policy (cell_key): (a) nothing pinned, (b) exact at most {100 * A.TOLERANCE:g} "
        "percentage points above guess; attack 2 also its attributes"
    )
    for attack, failures in requirement.items():
        _say(f"  {attack:<44} {_verdict(failures)}{': ' + '; '.join(failures) if failures else ''}")
    _say()

    if args.sweep:
        t = time.perf_counter()
        _say(
            "PARAMETER SWEEP (cell_key; max_deviation x variance): the same attacks and utility measures; attack 2 on "
            f"{corrections['cell_key + ledger (production)', 'remove'].trials} removals published with the "
            "Corrections ledger"
        )
        header = (
            f"{'D':>3} {'var':>5} {'1 exact':>8} {'3 exact':>8} {'guess':>7} {'2 exact':>8} {'2 pinned':>9} "
            f"{'guess':>7} {'MAE':>6} {'usable':>7} {'top20 1m':>9} {'top20 3m':>9}"
        )
        _say(header)
        _say("-" * len(header))
        for deviation, variance in ((4, 3.0), (4, 6.0), (6, 3.0), (8, 3.0), (10, 3.0), (10, 6.0)):
            policy = dataclasses.replace(default, max_deviation=deviation, variance=variance)
            releases = A.monthly_releases(months, policy)
            one = A.public_subtraction(releases, police, "sweep")
            three = A.linear_bounds(releases, "sweep")
            two = A.one_row_corrections(month, policy, ledger_trials, ["remove"], seed=args.seed, setting="sweep")[
                "remove"
            ]
            useful = A.utility(releases, "sweep")
            _say(
                f"{deviation:>3} {variance:>5g} {_pct(one.exact):>8} {_pct(three.exact):>8} {_pct(one.baseline):>7} "
                f"{_pct(two.pin.exact):>8} {_pct(two.pin.pinned):>9} {_pct(two.pin.baseline):>7} "
                f"{useful.mae_all:>6.3f} {_pct(useful.usable_share):>7} {_pct(useful.recall_monthly):>9} "
                f"{_pct(useful.recall_3_months):>9}"
            )
        _say(
            "  1/3 exact: the better exact share of attacks 1 and 3; 2: one-row removals (count recovered, pinned); "
            "MAE over all published figures"
        )
        timings["parameter sweep"] = time.perf_counter() - t
        _say()

    _say(
        "timings: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f"; total {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
