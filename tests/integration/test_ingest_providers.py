"""Ingest as a region delivers: several EDs and forces a month, each replaced only by its own
corrected file, providers outside the agreement refused, and nothing landed when ingest fails."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from click.testing import CliRunner

from ingest import landing
from ingest.landing import current_deliveries, landed_months
from pipelines.cli import cli
from pipelines.synthetic import generate_month
from sharing_agreements.audit import AuditLog
from tests.conftest import DATA

SOUTH_WALES = DATA / "police_uk" / "2018-10-south-wales-street.csv"
CITY_OF_LONDON = DATA / "police_uk" / "2024-06-city-of-london-street.csv"
AUGUST = dt.date(2026, 8, 1)


@pytest.fixture
def runner(istv_home):
    return CliRunner()


@pytest.fixture(scope="module")
def two_eds(tmp_path_factory):
    """A month of two EDs of the region: University Hospital of Wales and Royal Glamorgan."""
    out = tmp_path_factory.mktemp("eds")
    return (
        generate_month("2026-08", out, seed=1, ed_rows=60)["ed"],
        generate_month("2026-08", out, seed=2, ed_rows=40, site_code="7A5B1")["ed"],
    )


def _landed(home) -> list[str]:
    """Every file under landing, relative to it (the summary folders of runs aside)."""
    return sorted(str(p.relative_to(home.landing)) for p in home.landing.rglob("*") if p.is_file())


def _audit_kinds(home) -> list[str]:
    log = home.audit / "log.jsonl"
    return [json.loads(line)["kind"] for line in log.read_text().splitlines()] if log.exists() else []


def test_two_eds_in_one_month_both_stay_and_each_is_replaced_only_by_its_own(runner, istv_home, two_eds, tmp_path):
    uhw, royal_glamorgan = two_eds
    for file in two_eds:
        result = runner.invoke(cli, ["ingest", str(file), "--source", "ed"])
        assert result.exit_code == 0, result.output
    assert {d.providers for d in current_deliveries(istv_home, "ed", AUGUST)} == {("7A4BV",), ("7A5B1",)}
    corrected = tmp_path / "ed_2026-08_corrected.csv"
    corrected.write_bytes(uhw.read_bytes().rsplit(b"\n", 2)[0] + b"\n")  # one row fewer
    result = runner.invoke(cli, ["ingest", str(corrected), "--source", "ed"])
    assert result.exit_code == 0, result.output
    assert f"It replaces {uhw.name}" in result.output
    current = {d.providers: d.path.name for d in current_deliveries(istv_home, "ed", AUGUST)}
    assert current == {("7A4BV",): corrected.name, ("7A5B1",): royal_glamorgan.name}
    superseded = [p.name for p in istv_home.landing_dir("ed", AUGUST).rglob("superseded/*.csv")]
    assert len(superseded) == 1 and superseded[0].endswith(uhw.name)
    # The landing sensor sees both providers' current files, and only those.
    assert len(landed_months(istv_home)["2026-08-01"]) == 2


def test_a_provider_outside_the_agreement_is_refused_named_and_audited(runner, istv_home):
    result = runner.invoke(cli, ["ingest", str(CITY_OF_LONDON), "--source", "police_uk"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "'City of London Police' (846 rows)" in message
    assert "not a party to agreement cardiff-violence-prevention v1" in message
    assert "its police_uk providers: South Wales Police" in message
    assert "nothing was landed" in message and "the board must add it to the agreement" in message
    assert "Traceback" not in result.output
    assert _landed(istv_home) == []
    refused = [
        json.loads(line)
        for line in (istv_home.audit / "log.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "provider_refused"
    ]
    assert refused and refused[-1]["details"]["providers"] == ["City of London Police"]


def test_a_file_naming_a_party_and_a_stranger_is_refused_whole(runner, istv_home, tmp_path):
    mixed = tmp_path / "mixed.csv"
    lines = SOUTH_WALES.read_text().splitlines(keepends=True)
    mixed.write_text(
        "".join(lines[:50]) + "".join(line.replace("South Wales Police", "Gwent Police") for line in lines[50:60])
    )
    result = runner.invoke(cli, ["ingest", str(mixed), "--source", "police_uk"])
    assert result.exit_code == 1 and "'Gwent Police' (10 rows)" in " ".join(result.output.split())
    assert _landed(istv_home) == []


def test_a_provider_column_holding_personal_details_is_not_repeated(runner, istv_home, tmp_path):
    shifted = tmp_path / "shifted.csv"
    lines = SOUTH_WALES.read_text().splitlines(keepends=True)
    shifted.write_text("".join(lines[:20]) + lines[20].replace("South Wales Police", "Jane Planted", 1))
    result = runner.invoke(cli, ["ingest", str(shifted), "--source", "police_uk"])
    assert result.exit_code == 1 and "not an organisation's name or code" in result.output
    assert "Jane Planted" not in result.output and "Jane Planted" not in (istv_home.audit / "log.jsonl").read_text()


def test_a_party_is_recognised_by_code_name_or_site():
    from sharing_agreements.model import load_agreement

    agreement = load_agreement()
    assert agreement.provider_party("police", "SWP").name == "South Wales Police"
    assert agreement.provider_party("police_uk", " south wales police ").code == "SWP"
    assert agreement.provider_party("ed", "7A4BV").code == "7A4"
    assert agreement.provider_party("ed", "SWP") is None  # a party, but not for ED data
    assert agreement.provider_party("police_uk", "Gwent Police") is None


def test_a_wrong_month_is_refused_with_the_month_the_file_seems_to_hold(runner, istv_home, two_eds):
    result = runner.invoke(cli, ["ingest", str(two_eds[0]), "--source", "ed", "--month", "2026-07"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "declared as the ed extract for 2026-07, but it seems to hold 2026-08" in message
    assert "ingest it with --month 2026-08" in message
    assert _landed(istv_home) == []
    assert runner.invoke(cli, ["ingest", str(two_eds[0]), "--source", "ed", "--month", "2026-08"]).exit_code == 0


def test_without_an_audit_key_nothing_is_landed_and_the_retry_lands(runner, istv_home, two_eds):
    key = next(istv_home.keys.glob("audit*"))
    hidden = key.with_name(key.name + ".away")
    for path in istv_home.keys.glob("audit*"):
        path.rename(path.with_name(path.name + ".away"))
    result = runner.invoke(cli, ["ingest", str(two_eds[0]), "--source", "ed"])
    assert result.exit_code == 1 and "nothing was landed" in result.output
    assert _landed(istv_home) == []
    for path in istv_home.keys.glob("*.away"):
        path.rename(path.with_name(path.name.removesuffix(".away")))
    assert not hidden.exists()
    retry = runner.invoke(cli, ["ingest", str(two_eds[0]), "--source", "ed"])
    assert retry.exit_code == 0, retry.output


def _fail(*_args, **_kwargs):
    raise OSError("disk full")


def _break(patch, where: str, path_type) -> None:
    """Make one step of landing fail: the copy, the earlier file's move to superseded/, the new
    file's rename into place, the manifest, or the audit entry that follows."""
    real_rename, real_write, real_append = path_type.rename, path_type.write_text, AuditLog.append
    if where == "copy":
        patch.setattr(landing.shutil, "copyfile", _fail)
    elif where in ("supersede", "rename"):
        failed = []  # only the first such rename fails: undoing it renames too

        def rename(self, target):
            if not failed and (where == "supersede") == ("superseded" in str(target)):
                failed.append(target)
                _fail()
            return real_rename(self, target)

        patch.setattr(path_type, "rename", rename)
    elif where == "manifest":
        patch.setattr(
            path_type,
            "write_text",
            lambda self, *a, **k: _fail() if self.name.endswith(".manifest.json") else real_write(self, *a, **k),
        )
    else:
        patch.setattr(
            AuditLog,
            "append",
            lambda self, kind, details: _fail() if kind == "delivery" else real_append(self, kind, details),
        )


@pytest.mark.parametrize("where", ["copy", "supersede", "rename", "manifest", "audit"])
def test_a_failure_at_any_step_leaves_the_landing_zone_as_it_was(
    runner, istv_home, two_eds, tmp_path, monkeypatch, where
):
    first = runner.invoke(cli, ["ingest", str(two_eds[0]), "--source", "ed"])
    assert first.exit_code == 0, first.output
    before = _landed(istv_home)
    corrected = tmp_path / "ed_2026-08_corrected.csv"
    corrected.write_bytes(two_eds[0].read_bytes().rsplit(b"\n", 2)[0] + b"\n")
    with monkeypatch.context() as patch:
        _break(patch, where, type(corrected))
        result = runner.invoke(cli, ["ingest", str(corrected), "--source", "ed"])
    assert result.exit_code != 0
    assert _landed(istv_home) == before, where
    assert [d.path.name for d in current_deliveries(istv_home, "ed", AUGUST)] == [two_eds[0].name]
    retry = runner.invoke(cli, ["ingest", str(corrected), "--source", "ed"])
    assert retry.exit_code == 0, retry.output


def test_a_landing_zone_of_the_earlier_layout_is_still_read_and_superseded(istv_home, tmp_path):
    month = dt.date(2018, 10, 1)
    folder = istv_home.landing_dir("police_uk", month)
    folder.mkdir(parents=True)
    shutil.copyfile(SOUTH_WALES, folder / SOUTH_WALES.name)
    (folder / (SOUTH_WALES.name + ".manifest.json")).write_text(
        json.dumps(
            {
                "source": "police_uk",
                "month": "2018-10",
                "file": SOUTH_WALES.name,
                "sha256": landing.sha256_of(SOUTH_WALES),
                "size": SOUTH_WALES.stat().st_size,
            }
        )
    )
    (old,) = current_deliveries(istv_home, "police_uk", month)
    assert old.providers == ("South Wales Police",)
    corrected = tmp_path / "oct-corrected.csv"
    corrected.write_bytes(SOUTH_WALES.read_bytes().rsplit(b"\n", 2)[0] + b"\n")
    delivery = landing.place(istv_home, "police_uk", month, corrected)
    assert [d.path.name for d in delivery.superseded] == [SOUTH_WALES.name]
    assert [d.path for d in current_deliveries(istv_home, "police_uk", month)] == [delivery.path]
