"""An unchanged month published again gives byte-identical tables, so re-runs teach nothing."""

from __future__ import annotations

import dataclasses

from benchmarks import attacks as A


def test_re_running_an_unchanged_month_gives_byte_identical_tables(months, default_policy):
    month = months[-1]
    history = [m.joint for m in months[:-1]]
    first = A.publish_release(month.joint, default_policy, history=history, police=[m.police for m in months])
    # Rows in another order, as a re-delivered file or another worker split might hold them.
    shuffled = month.joint.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = A.publish_release(shuffled, default_policy, history=history, police=[m.police for m in months])
    assert A.table_bytes(first.tables) == A.table_bytes(again.tables)


def test_re_running_with_differential_privacy_gives_byte_identical_tables(months, default_policy):
    month = months[0]
    policy = A.dp_policy(month, seeded=True, base=default_policy)
    runs = [A.table_bytes(A.publish_release(month.joint, policy, police=[month.police]).tables) for _ in range(2)]
    assert runs[0] == runs[1]
    other = dataclasses.replace(policy, content_sha256="0" * 64)
    assert A.table_bytes(A.publish_release(month.joint, other, police=[month.police]).tables) != runs[0]
