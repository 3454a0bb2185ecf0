"""How the month's counts were protected, as the report explains them: by the disclosure policy
of the agreement they were published under, or, when this report cannot know that policy, by
saying why rather than describing rules it cannot read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from anonymise.disclosure import POLICE_OPEN_DATA_SENTENCE, DisclosurePolicy, disclosure_legend


@dataclass(frozen=True)
class Disclosure:
    """How the month's published counts were protected, as the report explains them: the policy of
    the agreement they were published under, or None when this report cannot know it (the
    agreement could not be read, or the rows carry another agreement id or version); `warning`
    then says why, and the page describes no rule it cannot read."""

    policy: DisclosurePolicy | None
    public_sources: tuple[str, ...] = ()
    epsilon: float | None = None
    agreement: str = ""  # "agreement <id> v<version>", when known
    warning: str = ""
    # Only when the policy is not known: whether the rows themselves flag any count as withheld.
    flagged_withheld: bool = False

    @property
    def method(self) -> str | None:
        return self.policy.method if self.policy else None

    @property
    def perturbs(self) -> bool:
        return self.method == "cell_key"

    @property
    def rounds(self) -> bool:
        return self.method == "suppress_and_round"

    @property
    def withholds(self) -> bool:
        """Whether any count may be withheld (shown as suppressed)."""
        if self.policy is None:
            return self.flagged_withheld
        return self.policy.largest_withheld() > 0 or self.cell_minimum is not None

    @property
    def threshold(self) -> int | None:
        return (self.policy.largest_withheld() or None) if self.policy else None

    @property
    def cell_minimum(self) -> int | None:
        """Under the cell-key method, the value below which a cell's, area's or venue's count is
        withheld, if the agreement sets one."""
        return (self.policy.cell_minimum or None) if self.perturbs else None

    @property
    def rounding(self) -> int | None:
        return self.policy.rounding_base if self.rounds else None

    @property
    def public_exact(self) -> bool:
        return "police_uk" in self.public_sources

    @property
    def protected_word(self) -> str:
        """What was done to each total: 'perturbed', 'rounded' or 'protected'."""
        return {"cell_key": "perturbed", "suppress_and_round": "rounded"}.get(self.method or "", "protected")

    @property
    def suppressed_label(self) -> str:
        """The legend entry for a withheld count: with its range when the policy says it."""
        if self.cell_minimum:
            return f"suppressed (would show below {self.cell_minimum})"
        return f"suppressed (1–{self.threshold})" if self.threshold else "suppressed"

    @property
    def legend(self) -> str:
        """The reader-facing sentence: the policy's own legend under the cell-key method; under
        suppression and rounding the same rule in the words this page uses for a withheld count."""
        if self.policy is None:
            return (
                "How these counts were protected cannot be stated here (see the note on disclosure control "
                "at the top). They are the published, disclosure-controlled figures."
            )
        if self.perturbs:
            return disclosure_legend(self.policy, self.public_sources)
        text = (
            f"Counts of 1 to {self.threshold} are suppressed (shown as “suppressed”, never as 0); "
            f"others are rounded to the nearest {self.rounding}."
        )
        return text + (" " + POLICE_OPEN_DATA_SENTENCE if self.public_exact else "")

    @property
    def legend_base(self) -> int:
        """Colour legends step in the published granularity: the rounding base when counts are
        rounded, single counts otherwise."""
        return self.rounding or 1


def _agreement_in_force():
    """The agreement the pipeline runs under (ISTV_AGREEMENT, else the bundled one)."""
    from sharing_agreements.model import DEFAULT_AGREEMENT, load_agreement

    return load_agreement(Path(os.environ.get("ISTV_AGREEMENT") or DEFAULT_AGREEMENT))


def resolve_agreement(agreement=None):
    """`agreement` as an Agreement: given, read from a path, or (None) the agreement in force.
    Raises AgreementError when it cannot be read."""
    from sharing_agreements.model import load_agreement

    if agreement is None:
        return _agreement_in_force()
    if isinstance(agreement, (str, os.PathLike)):
        return load_agreement(Path(agreement))
    return agreement


def disclosure_for(published: Sequence[tuple[str, int]], agreement=None, flagged_withheld: bool = False) -> Disclosure:
    """How rows published under `published` (agreement id, version pairs) were protected, from
    `agreement` (an Agreement, a path to one, or None for the agreement in force). When the rows
    carry another agreement id or version, the loaded agreement's rules may not be theirs: the
    Disclosure says so, with no policy, rather than guess."""
    from sharing_agreements.model import AgreementError

    try:
        agreement = resolve_agreement(agreement)
    except AgreementError as exc:
        return Disclosure(
            None, warning=f"the sharing agreement could not be read ({exc})", flagged_withheld=flagged_withheld
        )
    loaded = (agreement.id, agreement.version)
    other = sorted(set(published) - {loaded})
    if not published:
        return Disclosure(
            None,
            agreement=agreement.label,
            flagged_withheld=flagged_withheld,
            warning=(
                f"the published rows do not name the agreement they were published under, so the rules of "
                f"{agreement.label}, the agreement loaded here, may not be the ones applied"
            ),
        )
    if other:
        names = "; ".join(f"agreement {i} v{v}" for i, v in other)
        which = "some of these figures were" if loaded in published else "these figures were"
        return Disclosure(
            None,
            agreement=agreement.label,
            flagged_withheld=flagged_withheld,
            warning=(
                f"{which} published under {names}, not under {agreement.label}, the agreement loaded here, whose "
                "rules may not be the ones applied; ask the data officer for the agreement they were published under"
            ),
        )
    dp = agreement.disclosure_control.differential_privacy
    return Disclosure(
        agreement.disclosure_control.policy(), agreement.public_sources(), dp.epsilon if dp else None, agreement.label
    )
