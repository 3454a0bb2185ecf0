"""The monthly hotspot report: one self-contained HTML file, built from a small two-month
warehouse published the real way (build_tables + publish).

Most tests read a warehouse published under suppression and rounding (an agreement that asks for
it), whose withheld counts the report must show as suppressed, never as 0; the last ones read the
same months published under the cell-key method, where nothing is withheld."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import h3
import pandas as pd
import pytest

from anonymise.disclosure import DisclosurePolicy
from anonymise.reference import gazetteer
from report.charts import nice_ticks
from report.colours import ramp_colour
from report.geo import busiest_group, nearest_place
from report.page import SECTION_IDS, ReportError, render_report
from sharing_agreements.model import DisclosureControl, load_agreement
from tests.conftest import TEST_RECORD_KEYS, with_record_keys, without_cell_minimum
from warehouse.publish import connect_read_only, publish
from warehouse.tables import build_tables

MONTH = dt.date(2026, 10, 1)
PREVIOUS = dt.date(2026, 9, 1)
# Real H3 cells (resolution 9) in Cardiff city centre.
CELL_A, CELL_B, CELL_C, CELL_D = "8919586b4a3ffff", "89195879b4bffff", "8919586b4bbffff", "8919586b487ffff"
# A name that must be escaped, to prove the template escapes what it is given.
TRICKY_VENUE = "Bar <Test> & Grill"
# The agreement the test warehouse is published under: the bundled one, as id test-agreement
# version 3, asking for suppression and rounding (1 to 7 withheld, the rest rounded to 5).
SUPPRESSING = load_agreement().model_copy(
    update={"id": "test-agreement", "version": 3, "disclosure_control": DisclosureControl(method="suppress_and_round")}
)


def _real_venue():
    """A venue from the bundled gazetteer near the centre, so that its marker is placed from the
    register (the nearest to cell B)."""
    venues = [p for p in gazetteer() if p.kind == "venue"]
    return nearest_place(*h3.cell_to_latlng(CELL_B), venues)


def _when(month: dt.date, weekday: int, hour: int) -> pd.Timestamp:
    day = next(month + dt.timedelta(days=d) for d in range(7) if (month + dt.timedelta(days=d)).isoweekday() == weekday)
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour)))


def _incidents(
    n: int,
    source: str,
    month: dt.date,
    cell: str,
    *,
    weekday: int = 6,
    hour: int = 23,
    place: tuple[str, str, str] = ("street", "street:x", "X Street"),
    method: str | None = None,
) -> list[dict]:
    status, place_id, name = place
    row = {
        "source": source,
        "month": month,
        "weekday": weekday,
        "hour": hour,
        "event_hour": _when(month, weekday, hour),
        "cell_id": cell,
        "place_status": status,
        "place_id": place_id,
        "place_name": name,
        "method": method if source == "ed" else None,
    }
    return [dict(row) for _ in range(n)]


def _joint(month: dt.date) -> pd.DataFrame:
    venue = _real_venue()
    venue_cell = h3.latlng_to_cell(venue.latitude, venue.longitude, 9)
    tricky = ("venue", "venue:test-1", TRICKY_VENUE)
    if month == MONTH:
        rows = (
            _incidents(22, "ed", month, CELL_A, place=tricky, method="fist")  # 20, rank 1 venue
            + _incidents(
                9,
                "ed",
                month,
                venue_cell,
                weekday=5,
                hour=22,
                method="glass_or_bottle",
                place=("venue", venue.place_id, venue.name),
            )  # 10, new this month
            + _incidents(
                3, "ed", month, CELL_C, weekday=2, hour=14, method="knife", place=("venue", "venue:test-3", "Quiet Inn")
            )  # suppressed everywhere
            + _incidents(12, "police", month, CELL_A)  # 10
            + _incidents(3, "police", month, venue_cell)  # police suppressed
            + _incidents(15, "police", month, CELL_D, weekday=7, hour=1)  # 15
        )
    else:
        rows = (
            _incidents(10, "ed", month, CELL_A, place=tricky, method="fist")  # 10 last month: +10
            + _incidents(9, "police", month, CELL_A)
            + _incidents(11, "police", month, CELL_B)
        )
    return with_record_keys(pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64"}), salt=f"{month}")


def _summaries(month: dt.date, joint: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for source, provider in (("ed", "7A4BV"), ("police", "SWP")):
        n = int((joint["source"] == source).sum())
        rows.append(
            {
                "month": month,
                "source": source,
                "provider": provider,
                "rows_received": n + 2,
                "rows_quarantined": 2,
                "rows_out_of_scope": 0,
                "rows_out_of_area": 0,
                "rows_shared": n,
                "rows_located": n,
                "rows_unlocated": 0,
                "rows_private": 0,
                "rows_ambiguous": 0,
            }
        )
    return pd.DataFrame(rows)


def publish_two_months(warehouse: Path, drop: tuple[str, ...] = (), agreement=SUPPRESSING) -> None:
    """September and October 2026, published as the pipeline does under `agreement` (October's
    rolling windows reaching back to September); `drop`
    leaves tables out, as an agreement that does not permit them (or an older warehouse) would."""
    policy = agreement.disclosure_control.policy()
    history: list[pd.DataFrame] = []  # the earlier months' rows, which rolling windows reach back to
    for month in (PREVIOUS, MONTH):
        joint = _joint(month)
        tables = build_tables(
            joint,
            _summaries(month, joint),
            policy,
            agreement.id,
            agreement.version,
            record_keys=TEST_RECORD_KEYS,
            public_sources=agreement.public_sources(),
            history=list(history),
        )
        history.append(joint)
        publish(warehouse, month, {name: t for name, t in tables.items() if name not in drop})


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "istv.duckdb"
    publish_two_months(path)
    return path


@pytest.fixture(scope="module")
def html(warehouse, tmp_path_factory) -> str:
    out = render_report(
        warehouse, MONTH, tmp_path_factory.mktemp("reports") / "hotspots_2026-10.html", agreement=SUPPRESSING
    )
    return out.read_text(encoding="utf-8")


def _element(html: str, tag: str, element_id: str) -> str:
    match = re.search(rf'<{tag} id="{element_id}".*?</{tag}>', html, re.DOTALL)
    assert match, f"no <{tag} id={element_id!r}>"
    return match.group(0)


def _table_row(html: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", html, re.DOTALL) if text in r]
    assert rows, f"no table row containing {text!r}"
    return rows[0]


def test_the_report_is_one_file_with_every_section(warehouse, tmp_path):
    out = render_report(warehouse, MONTH, tmp_path / "reports" / "october.html", agreement=SUPPRESSING)
    assert out == tmp_path / "reports" / "october.html" and out.is_file()
    text = out.read_text(encoding="utf-8")
    for section in SECTION_IDS:
        assert f'id="{section}"' in text, section
    assert "October 2026" in text and "test-agreement" in text and "version 3" in text
    assert [p.name for p in out.parent.iterdir()] == ["october.html"]  # no partial file left behind


def test_the_report_fetches_nothing(html):
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.findall(r"\b(?:src|srcset|xlink:href)=", html) == []
    # The only references are to elements of the page itself (patterns, clip paths, the cells).
    assert {ref[0] for ref in re.findall(r'(?:href="|url\()(.)', html)} == {"#"}


def test_the_headline_gives_totals_agreement_and_rounding(html):
    headline = _element(html, "section", "headline")
    # monthly_trend: ED 22 + 9 + 3 = 34 -> 35; police 12 + 3 + 15 = 30 -> 30.
    assert re.search(r'class="big"[^>]*>35</span>ED-treated assaults', headline)
    assert re.search(r'class="big"[^>]*>30</span>police-recorded', headline)
    assert "rounded to the nearest 5" in headline and "suppressed counts (1 to 7) are excluded" in headline
    assert "How to read this report" in html and "0.1" in _element(html, "section", "how-to-read")


def test_suppressed_counts_show_as_suppressed_never_zero(html, warehouse):
    venue = _real_venue()
    venue_cell = h3.latlng_to_cell(venue.latitude, venue.longitude, 9)
    with connect_read_only(warehouse) as con:
        ed, police, police_suppressed, rank = con.execute(
            "SELECT ed_assaults, police_violence, police_violence_suppressed, rank FROM hotspot_cells "
            "WHERE month = ? AND cell_id = ?",
            [MONTH, venue_cell],
        ).fetchone()
    assert (ed, police, police_suppressed) == (10, None, True)
    cells = _element(html, "div", "top-cells")
    row = next(
        r for r in re.findall(r"<tr[ >].*?</tr>", cells, re.DOTALL) if re.search(rf'<td class="num">{rank}</td>', r)
    )
    assert '<span class="suppressed">suppressed</span>' in row
    assert '<td class="num">0</td>' not in row
    # The cell whose combined count is suppressed is drawn hatched, and the legend says so.
    assert re.search(rf'<polygon class="cell suppressed" data-cell="{CELL_C}"', html)
    assert "suppressed (1–7)" in _element(html, "svg", "hotspot-map")
    # Suppressed hours of the week are marked, with a legend.
    assert "•" in _element(html, "svg", "hour-of-week") and "• suppressed (1–7)" in html
    # The suppressed knife count is written, never drawn as a zero-length bar.
    assert "suppressed" in _element(html, "svg", "methods")


def test_the_map_draws_one_hexagon_per_cell(html, warehouse):
    with connect_read_only(warehouse) as con:
        (cells,) = con.execute("SELECT count(*) FROM hotspot_cells WHERE month = ?", [MONTH]).fetchone()
    svg = _element(html, "svg", "hotspot-map")
    assert 'viewBox="0 0 ' in svg and 'width="100%"' in svg
    polygons = re.findall(r"<polygon [^>]*points=\"([^\"]+)\"", svg)
    assert len(polygons) == cells == 4
    assert all(len(p.split()) == 6 for p in polygons)  # hexagons
    # The top cells are numbered and named after the nearest gazetteer place; venues are marked.
    nearest = nearest_place(*h3.cell_to_latlng(CELL_A), gazetteer()).name
    assert re.search(r">1</text>", svg) and f">{nearest.replace('&', '&amp;')}</text>" in svg
    assert "Bar &lt;Test&gt; &amp; Grill" in svg and _real_venue().name[:20].replace("&", "&amp;") in svg


def test_top_venues_show_the_change_from_last_month(html):
    venues = _element(html, "section", "top-venues")
    assert "<Test>" not in html  # escaped everywhere
    top = _table_row(venues, "Bar &lt;Test&gt; &amp; Grill")
    assert re.search(r'<td class="num">1</td>', top) and "+10" in top
    new = _table_row(venues, _real_venue().name.replace("&", "&amp;"))
    assert ">new</td>" in new
    assert "Quiet Inn" not in venues and "1 further venue had a suppressed count" in venues


def test_hour_of_week_trend_methods_hidden_and_coverage(html):
    heat = _element(html, "svg", "hour-of-week")
    assert heat.count("<rect ") >= 7 * 24
    assert 'id="hour-of-week-police"' in html  # police records have times here
    trend = _element(html, "svg", "trend")
    assert trend.count("<circle ") == 4  # two months, two series
    assert "Fist, hand or punch" in _element(html, "svg", "methods")
    hidden = _element(html, "section", "hidden-violence")
    assert "%" in hidden and "no police record" in hidden
    coverage = _element(html, "section", "coverage")
    assert "Emergency department" in coverage and "7A4BV" in coverage and "100%" in coverage


def test_without_the_newer_tables_it_falls_back_and_says_so(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish_two_months(warehouse, drop=("monthly_trend", "hidden_violence"))
    text = render_report(warehouse, MONTH, tmp_path / "report.html", agreement=SUPPRESSING).read_text(encoding="utf-8")
    assert "sum of the published cell counts" in text
    # ED from published cells: 20 (A) + 10 (venue cell); the suppressed cell C is left out.
    assert re.search(r'class="big"[^>]*>30</span>ED-treated assaults', text)
    assert "not available for October 2026" in _element(text, "section", "hidden-violence")
    assert 'id="trend"' in text


def test_an_unpublished_month_is_an_error(warehouse, tmp_path):
    with pytest.raises(ReportError, match="nothing published for 2026-11"):
        render_report(warehouse, dt.date(2026, 11, 1), tmp_path / "report.html")
    with pytest.raises(FileNotFoundError, match="no warehouse"):
        render_report(tmp_path / "missing.duckdb", MONTH, tmp_path / "report.html")


def test_helpers():
    assert nice_ticks(685) == [0, 200, 400, 600, 800]
    assert nice_ticks(0) == [0, 5]
    assert ramp_colour(0) == "#ffffb2" and ramp_colour(1) == "#bd0026"
    # The busiest 2-unit window holds the three clustered points, not the outlier.
    assert busiest_group([(0, 0), (10, 10), (0.5, 0.5), (0.9, 0.2)], window=2) == [0, 2, 3]


# --- the same months under the cell-key method (the bundled agreement) ----------------------------

IN_FORCE = load_agreement()
EVERY_CELL = without_cell_minimum(IN_FORCE)  # the cell-key method with every monthly cell shown


@pytest.fixture(scope="module")
def cell_key_warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cell-key") / "istv.duckdb"
    publish_two_months(path, agreement=EVERY_CELL)
    return path


def test_under_the_cell_key_method_every_count_is_published_near_its_true_value(cell_key_warehouse):
    assert EVERY_CELL.disclosure_control.policy() == DisclosurePolicy()  # the default method, every cell shown
    true = _joint(MONTH)
    with connect_read_only(cell_key_warehouse) as con:
        cells = con.execute("SELECT * FROM hotspot_cells WHERE month = ?", [MONTH]).df().set_index("cell_id")
        trend = con.execute("SELECT * FROM monthly_trend WHERE month = ?", [MONTH]).df().iloc[0]
        methods = con.execute("SELECT * FROM assault_methods WHERE month = ?", [MONTH]).df().set_index("method")
    for column, sources in (("ed_assaults", ["ed"]), ("police_violence", ["police"]), ("combined", ["ed", "police"])):
        raw = true[true.source.isin(sources)].groupby("cell_id").size().reindex(cells.index, fill_value=0)
        assert cells[column].notna().all() and not cells[f"{column}_suppressed"].any()
        assert (abs(cells[column] - raw) <= 4).all(), column
    assert abs(trend.ed_assaults - 34) <= 4 and abs(trend.police_violence - 30) <= 4
    assert abs(methods.loc["knife", "ed_assaults"] - 3) <= 4 and not methods.loc["knife", "ed_assaults_suppressed"]


def test_under_the_agreements_cell_minimum_small_cells_and_venues_are_withheld_never_zero(tmp_path):
    minimum = IN_FORCE.disclosure_control.cell_key.cell_minimum
    assert minimum == 5
    path = tmp_path / "istv.duckdb"
    publish_two_months(path, agreement=IN_FORCE)  # every source protected here: no public part
    true = _joint(MONTH)
    with connect_read_only(path) as con:
        cells = con.execute("SELECT * FROM hotspot_cells WHERE month = ?", [MONTH]).df().set_index("cell_id")
        venues = con.execute("SELECT * FROM hotspot_venues WHERE month = ?", [MONTH]).df()
        methods = con.execute("SELECT * FROM assault_methods WHERE month = ?", [MONTH]).df().set_index("method")
    for table, columns in ((cells, ("ed_assaults", "police_violence", "combined")), (venues, ("ed_assaults",))):
        for column in columns:
            shown = table[column].dropna()
            assert (shown >= minimum).all(), column  # nothing below the minimum is ever shown...
            assert (table[column].isna() == table[f"{column}_suppressed"]).all(), column  # ...nor as 0
    withheld = cells["ed_assaults"].isna()
    assert withheld.any() and (~withheld).any()
    # The same cell over a one-month window (hotspot_areas) has the same records, so the same value:
    # never shown there when withheld here.
    with connect_read_only(path) as con:
        same = (
            con.execute(
                "SELECT cell_id, ed_assaults FROM hotspot_areas "
                "WHERE month = ? AND window_months = 1 AND resolution = ?",
                [MONTH, h3.get_resolution(cells.index[0])],
            )
            .df()
            .set_index("cell_id")["ed_assaults"]
        )
    assert len(same) and same.reindex(cells.index[withheld]).isna().all()
    shown = same.dropna()
    assert (shown == cells.loc[shown.index, "ed_assaults"]).all()
    assert (cells["rank"].isna() == cells["combined"].isna()).all()  # a withheld combined count is not ranked
    # Small cells kept their rows only where something else shows; the rest have no row.
    raw = true[true.source == "ed"].groupby("cell_id").size()
    assert len(cells) < len(raw.index.union(true[true.source == "police"].groupby("cell_id").size().index))
    # Area-wide figures are not cells: a small method count is still shown, perturbed.
    assert methods.loc["knife", "ed_assaults"] is not None and not methods.loc["knife", "ed_assaults_suppressed"]


def test_the_report_ranks_the_cells_of_the_shortest_window_of_several_months_as_published(tmp_path):
    path = tmp_path / "istv.duckdb"
    publish_two_months(path, agreement=IN_FORCE)
    html = render_report(path, MONTH, tmp_path / "report.html", agreement=IN_FORCE).read_text(encoding="utf-8")
    section = _element(html, "div", "top-window-cells")
    assert "over the 3 months to October 2026" in section
    # September and October published, not August: the window's counts say they cover two months.
    assert "Only 2 of these 3 months have data in the warehouse" in section
    rows = re.findall(r'<tr data-window-cell="([0-9a-f]{15})">(.*?)</tr>', section, re.S)
    with connect_read_only(path) as con:
        ranked = con.execute(
            "SELECT cell_id, ed_assaults, police_violence, combined FROM hotspot_areas WHERE month = ? "
            "AND window_months = 3 AND resolution = 9 AND rank IS NOT NULL ORDER BY rank, cell_id LIMIT 10",
            [MONTH],
        ).fetchall()
    assert ranked and [cell for cell, _ in rows] == [r[0] for r in ranked]
    for (_, cells_html), (_, ed, police, combined) in zip(rows, ranked):
        shown = re.findall(r'<td class="num">(.*?)</td>', cells_html)[1:4]
        assert shown == [f"{v:,}" for v in (ed, police, combined)]  # a ranked area is not quiet: all shown
    # Both tables are drawn alike; only the month's cells have a Gi* z-score, so only they say
    # whether each is a significant hot spot.
    assert "Statistically significant hot spot?" not in section and len(rows[0][1].split("<td")) == 6
    month_cells = _element(html, "div", "top-cells")
    assert "Statistically significant hot spot?" in month_cells
    answers = re.findall(r'<tr data-cell="[0-9a-f]{15}">.*?<td>(yes|no)</td></tr>', month_cells, re.S)
    assert len(answers) == len(re.findall(r"<tr data-cell=", month_cells)) > 0


def test_a_window_with_only_the_month_itself_is_not_available_rather_than_a_copy_of_the_month(tmp_path):
    path = tmp_path / "istv.duckdb"
    publish_two_months(path, agreement=IN_FORCE)
    html = render_report(path, PREVIOUS, tmp_path / "report.html", agreement=IN_FORCE).read_text(encoding="utf-8")
    section = _element(html, "div", "top-window-cells")
    assert "Not available" in section and "only September 2026" in section and "3 months" in section
    assert "data-window-cell" not in section and "<table" not in section
    assert "data-cell=" in _element(html, "div", "top-cells")  # the month's own cells are still ranked


def test_a_report_under_the_cell_key_method_shows_every_count_and_never_says_suppressed(cell_key_warehouse, tmp_path):
    html = render_report(cell_key_warehouse, MONTH, tmp_path / "report.html", agreement=EVERY_CELL).read_text(
        encoding="utf-8"
    )
    seen = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)  # the style sheet names .suppressed anyway
    assert "suppressed" not in seen.lower() and "rounded to the nearest" not in seen
    assert "cell-key method" in seen and "at most 4" in seen
    with connect_read_only(cell_key_warehouse) as con:
        ed, police = con.execute(
            "SELECT ed_assaults, police_violence FROM monthly_trend WHERE month = ?", [MONTH]
        ).fetchone()
        knife = con.execute(
            "SELECT ed_assaults FROM assault_methods WHERE month = ? AND method = 'knife'", [MONTH]
        ).fetchone()[0]
    # The headline gives the published (perturbed) totals, as published.
    headline = _element(html, "section", "headline")
    assert re.search(rf'class="big"[^>]*>{ed}</span>ED-treated assaults', headline)
    assert re.search(rf'class="big"[^>]*>{police}</span>police-recorded', headline)
    # The knife count (3 assaults) is drawn with its published value, not withheld.
    assert re.search(
        rf"Knife or other sharp object</text>\s*<rect [^>]*/>\s*<text [^>]*>{knife}</text>",
        _element(html, "svg", "methods"),
    )
    # Every top cell's row gives the cell's three published counts, none withheld.
    with connect_read_only(cell_key_warehouse) as con:
        published = {
            c: (e, p, b)
            for c, e, p, b in con.execute(
                "SELECT cell_id, ed_assaults, police_violence, combined FROM hotspot_cells WHERE month = ?", [MONTH]
            ).fetchall()
        }
    rows = re.findall(r'<tr data-cell="([0-9a-f]{15})">(.*?)</tr>', _element(html, "div", "top-cells"), re.DOTALL)
    assert len(rows) == len(published) == 4
    for cell, row in rows:
        numbers = re.findall(r'<td class="num">(.*?)</td>', row)
        assert tuple(int(n) for n in numbers[1:4]) == published[cell], cell
