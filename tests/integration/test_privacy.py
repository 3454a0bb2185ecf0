"""Planted identifiers must not reach the pseudonymised zone, the warehouse, Dagster's event
log and run storage, the quarantine summaries or the terminal, whichever field they hide in."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.landing import place
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from schemas import schema_for_source

pytestmark = pytest.mark.slow
MONTH = dt.date(2026, 8, 1)

PLANTED = {
    "attendance_id": "EDPLANT7731",
    "nhs_number": "943 476 5919",
    "date_of_birth": "17/04/1987",
    "home_postcode": "CF24 4HU",
    "assault_method_other": "bitten by Zebedee Quartermaine",
    "assault_location_description": "outside Zebedee Quartermaine's house 07700 900461 CF24 4HU",
}
EXTRA_COLUMN = ("PATIENT NAME", "Philippa Thistlewood")
NEEDLES = [
    "EDPLANT7731",
    "9434765919",
    "943 476 5919",
    "17/04/1987",
    "1987-04-17",
    "CF24 4HU",
    "CF244HU",
    "Zebedee",
    "Quartermaine",
    "07700 900461",
    "07700900461",
    "Philippa",
    "Thistlewood",
    "SW/888777/26",
]


def _planted_ed(tmp_path):
    """A synthetic ED month with two planted rows (one good, one that fails validation) and an
    undeclared column holding a name."""
    ed = generate_month(f"{MONTH:%Y-%m}", tmp_path, seed=11, ed_rows=120, bad_rows=False)["ed"]
    schema = schema_for_source("ed")
    lines = ed.read_text().splitlines()
    header, first = lines[0], lines[1].split(",")
    fields = {f.name: first[i] for i, f in enumerate(schema.fields)}
    fields.update(
        PLANTED, assault_method="04", assault_datetime="15/08/2026 23:10", arrival_datetime="15/08/2026 23:55"
    )
    good = [fields[f.name] for f in schema.fields]
    bad = dict(fields, attendance_id="EDPLANT7731B", assault_method="77")
    rows = [header + "," + EXTRA_COLUMN[0]]
    rows += [line + "," for line in lines[1:]]
    rows.append(",".join(f'"{v}"' for v in good) + f',"{EXTRA_COLUMN[1]}"')
    rows.append(",".join(f'"{bad[f.name]}"' for f in schema.fields) + f',"{EXTRA_COLUMN[1]}"')
    ed.write_text("\n".join(rows) + "\n")
    return ed


def _planted_police(tmp_path):
    police = generate_month(f"{MONTH:%Y-%m}", tmp_path / "p", seed=12, ed_rows=40, bad_rows=False)["police"]
    lines = police.read_text().splitlines()
    first = lines[1].split(",")
    first[1] = "SW/888777/26"
    lines.append(",".join(first))
    police.write_text("\n".join(lines) + "\n")
    return police


def _leaks(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="ignore")
    return [n for n in NEEDLES if n in text]


def test_planted_identifiers_stay_in_the_landing_zone(istv_home, tmp_path, capfd):
    place(istv_home, "ed", MONTH, _planted_ed(tmp_path))
    place(istv_home, "police", MONTH, _planted_police(tmp_path))
    assert run_month(MONTH, istv_home).success
    out, err = capfd.readouterr()
    assert _leaks((out + err).encode()) == []

    # The landing zone holds them (so the test would notice if planting failed) ...
    landed = b"".join(p.read_bytes() for p in istv_home.landing.rglob("*.csv"))
    assert set(_leaks(landed)) >= {"EDPLANT7731", "943 476 5919", "Zebedee", "Philippa", "SW/888777/26"}
    # ... and nothing else does: pseudonymised zone, warehouse, Dagster storage, quarantine, audit.
    checked = 0
    for zone in (
        istv_home.pseudonymised,
        istv_home.warehouse.parent,
        istv_home.dagster,
        istv_home.quarantine,
        istv_home.audit,
    ):
        for path in zone.rglob("*"):
            if path.is_file():
                checked += 1
                assert _leaks(path.read_bytes()) == [], path
    assert checked >= 10

    # No key material outside the key folder: not the ring's secrets, not the quarantine or
    # audit keys, not a derived field key.
    import json as _json

    from anonymise.keys import derive_field_key

    ring = _json.loads((istv_home.keys / "pseudonym.key").read_text())
    master = bytes.fromhex(ring["keys"][0]["secret"])
    secrets = [master.hex().encode(), master, derive_field_key(master, "cardiff-violence-prevention", 1, "person")]
    secrets += [(istv_home.keys / name).read_bytes().strip() for name in ("quarantine.key", "audit_ed25519.pem")]
    for path in (p for p in istv_home.root.rglob("*") if p.is_file() and istv_home.keys not in p.parents):
        data = path.read_bytes()
        assert not any(secret in data for secret in secrets), path

    # The leak scanner agrees, over the warehouse file, Dagster's run storage and event logs,
    # the audit log and the pseudonymised zone; and it does find the planted values in landing.
    from anonymise.scan import scan_path
    from pipelines.lib.leak_checks import scanner_for

    scanner = scanner_for(istv_home, MONTH)
    for zone in (istv_home.warehouse, istv_home.dagster, istv_home.audit, istv_home.pseudonymised):
        assert scan_path(zone, scanner) == [], zone
    landing_findings = {f.kind for _, f in scan_path(istv_home.landing, scanner)}
    assert {"nhs_number", "postcode", "phone"} <= landing_findings

    # The bad planted row was quarantined, not lost, and its reason names the column only.
    from ingest.quarantine import quarantine_summaries, read_quarantine
    from ingest.secrets import quarantine_cipher

    summaries = quarantine_summaries(istv_home.quarantine / "ed")
    assert any("assault_method: code not in the assault_method code list" in s["reasons"] for _, s in summaries)
    encrypted = next((istv_home.quarantine / "ed").rglob("*.fernet"))
    rows = read_quarantine(encrypted, quarantine_cipher(istv_home))
    assert "EDPLANT7731B" in set(rows["attendance_id"])  # the provider can still fix it
