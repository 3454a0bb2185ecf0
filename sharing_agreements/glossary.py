"""The terms a board meets in `istv agreements show` and `diff`, each explained once in one line.

The explanations follow the text rather than a fixed list: a term is explained when the text
uses it, so a reader is never left with an unexplained term nor given ones the text never uses.
"""

from __future__ import annotations

import re

# (what marks the term in the text, its explanation), in the order a reader meets them.
TERMS: tuple[tuple[str, str], ...] = (
    (
        r"\bdropped\b",
        "Dropped: the field never leaves the provider's extract.",
    ),
    (
        r"\bkept\b",
        "Kept: the field is shared as delivered.",
    ),
    (
        r"\bpseudonymised\b",
        "Pseudonymised: the value is replaced by a keyed hash (HMAC-SHA256), so the same value always gives "
        "the same pseudonym under this agreement version and another one under any other version; the "
        "value cannot be read back from it.",
    ),
    (
        r"\bkey scope\b",
        "Key scope: fields pseudonymised under the same key scope share one key, so the same value (a "
        "person's NHS number, say) gets the same pseudonym in each of them and their records can be linked; "
        "a field without one has a key of its own and links to nothing.",
    ),
    (
        r"\bgeneralised\b",
        "Generalised: the value is replaced by a coarser one (an age band for a date of birth, the hour "
        "of the week for a time, a postcode district for a postcode, a named place for free text, an H3 "
        "cell for coordinates).",
    ),
    (
        r"\bnamed place\b",
        "Named place: free text about where it happened becomes a venue or street from the gazetteer, "
        "or is marked a private dwelling; the text itself is dropped.",
    ),
    (
        r"\bH3\b",
        "H3 cell: a hexagon of the H3 grid that places an incident without its address; each resolution "
        "down is about seven times larger.",
    ),
    (
        r"\bcell-key\b",
        "Cell-key perturbation: every published count is moved by a small amount worked out from the "
        "records it counts, so the same records always give the same figure and comparing tables does "
        "not undo the change.",
    ),
    (
        r"\bsuppression and rounding\b",
        "Suppression and rounding: counts from 1 up to the suppression threshold are withheld and the "
        "others rounded to the nearest multiple of the rounding base, so no small group can be singled out.",
    ),
    (
        r"\bsuppression threshold\b",
        "Suppression threshold: under suppression and rounding, the largest count withheld; under "
        "cell-key perturbation, the fewest changed records for which a corrected month's figure is "
        "published afresh.",
    ),
    (
        r"\bpublic sources?\b",
        "Public source: data already published by its owner (data.police.uk); its counts are published "
        "exactly, as changing them would protect nothing.",
    ),
    (
        r"\bdifferential privacy\b",
        "Differential privacy: random noise added to each published count; epsilon bounds how much any "
        "one person's record can change what is published (smaller is more private and noisier), and the "
        "month's budget caps the epsilon spent over every release of the month.",
    ),
    (
        r"\bk-anonymity\b",
        "k-anonymity threshold: the smallest group of shared rows alike in all the fields it is judged "
        "over that the board accepts; a month with smaller groups is flagged to the board (`istv risk`).",
    ),
    (
        r"\bretention\b",
        "Retention: how many days each zone keeps data before `istv retention` deletes it, counted from "
        "the end of the month the data is about (Dagster's run history from the end of the run, the "
        "board's audit reports from the day they were written).",
    ),
    (
        r"\bpublic page\b",
        "Public page: an offline web page for residents, written by `istv publish-public`, showing only the "
        "sections the board approves and only published (protected) figures, never a row or an identifier.",
    ),
    (
        r"\bquarantine\b",
        "Quarantine: rows that failed the checks, kept encrypted for the provider to correct.",
    ),
)


def explain(lines: list[str]) -> list[str]:
    """One line for each term that `lines` use, in the order of TERMS."""
    text = "\n".join(lines)
    return [meaning for pattern, meaning in TERMS if re.search(pattern, text, re.IGNORECASE)]


def with_glossary(lines: list[str]) -> list[str]:
    """`lines` followed by the terms they use, under a heading."""
    terms = explain(lines)
    return [*lines, "", "Terms used above:", *(f"  {term}" for term in terms)] if terms else lines
