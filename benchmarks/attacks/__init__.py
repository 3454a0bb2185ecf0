"""Privacy attacks on the published tables, and the utility they are weighed against.

Used by `make bench-privacy` (benchmarks/privacy.py) and by tests/attacks/, through the names
below: data.py (the agreement, the police and synthetic ED data), release.py (publishing),
scoring.py (the intruder's model, the scores, the requirement), attacks.py, utility.py.
Everything runs the production code (`warehouse.tables.build_tables`, the agreement's disclosure
policy, warehouse.corrections) on joint frames built here in Python, without Dagster:

- police: the real data.police.uk street-level files bundled in data/police_uk/ (South Wales),
  "Violence and sexual offences" rows inside the agreement's area, cell from latitude/longitude,
  record key from sha256(Crime ID); source `police_uk` (a public source under the agreement).
- ED: synthetic assaults placed where the police recorded violence (or at a licensed premises of
  the gazetteer near it, or at no cell: private dwellings and unknown places), night-time hours,
  the codelist's methods; record key from a random hexadecimal pseudonym.

The intruder (every attack below) reads every published table of every release, holds the public
police open data (exact street-level counts, so exact public counts per cell), knows the method
and its parameters (the perturbation table, the suppression threshold and rounding base) and the
rule for corrected releases (warehouse.corrections), but not the record keys nor the noise key,
and may ask for re-runs. The attacks:
1. public-data subtraction: a cell's published combined count minus its exact police count;
2. one-row corrections: a month published, then corrected by one ED row (removed or added) and
   published again as production publishes a re-delivered month (Corrections holding what the
   pipeline kept of the first release, "the ledger"); the intruder compares the two releases;
3. linear bounds: a cell's figure with every published sum over it (areas, windows, totals);
4. averaging re-runs of an unchanged month under differential privacy.

Definitions used in every figure printed:
- attacked counts: true protected counts from 1 to 7 (scoring.ATTACKED), one per attacked figure;
- recovered exactly: the intruder's estimate equals the true count. Two estimators are scored:
  "as published" (the published figure, public part subtracted, taken at face value; nothing
  when withheld) and "Bayes" (the most probable value from 1 to 7 given every observation the
  attack uses, under the known perturbation law, with the prior the guesser has: the
  distribution of the attacked counts; ties go to the smaller value);
- pinned: the feasible set (below) is a single value: recovered exactly and with certainty;
- narrowed: the feasible set, the values v in 1..7 under which every observation the attack uses
  has positive probability (from the support of the perturbation table, the suppression and
  rounding rules), leaves out at least one value of 1..7;
- guessing baseline: the share of attacked counts equal to the most common true value among the
  attacked counts (what an intruder gets by always guessing that value, without any release).
  Attack 2 scores a random sample of corrections: its prior and guess are those of the
  population the sample is drawn from (a prior fitted to a few trials would favour the attacker).

The requirement (criterion_failures; tests/attacks asserts it for each attack on the agreement's
default policy, the cell-key method): (a) no attacked count is pinned, and (b) the better exact
share (Bayes or face value) exceeds the guessing baseline by at most TOLERANCE, 5 percentage
points. Any release that carries information lets a Bayes-optimal attacker, whose prior is the
guesser's, gain a little over that prior, so "no better than guessing" is checked with this stated
tolerance. For attack 2, also: the changed row's cell, hour of week and method are each named at
most TOLERANCE more often than by guessing their most common value (in the population the
corrections are drawn from).
"""

from .attacks import (
    ATTRIBUTES,
    CorrectionResult,
    dp_averaging,
    dp_policy,
    known_incident,
    linear_bounds,
    one_row_corrections,
    open_data_counts,
    public_subtraction,
)
from .data import (
    Month,
    agreement,
    default_policy,
    hotspot_areas,
    joint_columns,
    make_month,
    police_uk_dir,
    police_uk_months,
    public_sources,
    suppress_and_round,
)
from .release import BATCH_LEFT_OUT, Release, monthly_releases, publish_copies, publish_release, table_bytes
from .scoring import TOLERANCE, Law, Score, criterion_failures, suppressed_and_rounded
from .utility import Utility, top_recall, utility

__all__ = [
    "ATTRIBUTES",
    "BATCH_LEFT_OUT",
    "TOLERANCE",
    "CorrectionResult",
    "Law",
    "Month",
    "Release",
    "Score",
    "Utility",
    "agreement",
    "criterion_failures",
    "default_policy",
    "dp_averaging",
    "dp_policy",
    "hotspot_areas",
    "joint_columns",
    "known_incident",
    "linear_bounds",
    "make_month",
    "monthly_releases",
    "one_row_corrections",
    "open_data_counts",
    "police_uk_dir",
    "police_uk_months",
    "public_sources",
    "public_subtraction",
    "publish_copies",
    "publish_release",
    "suppress_and_round",
    "suppressed_and_rounded",
    "table_bytes",
    "top_recall",
    "utility",
]
