"""The residents' public page in a real browser (headless Chromium over the DevTools protocol, as
for the report): it asks the network for nothing, and shows only the sections the board approved."""

from __future__ import annotations

from tests.browser.test_report_browser import _opened
from tests.unit.report.test_public_account import MONTH, home, publish  # noqa: F401 (home: a fixture)

SECTIONS = "Array.from(document.querySelectorAll('main section')).map(s => s.id)"


def _loaded(home, tmp_path):  # noqa: F811 (the fixture's value)
    result = publish()
    assert result.exit_code == 0, result.output
    return _opened(home.root / "public" / f"{MONTH}.html", tmp_path / "chromium-profile")


def _requests(browser) -> set[str]:
    return {e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"}


def test_the_public_page_makes_no_request_and_shows_every_approved_section(home, tmp_path):  # noqa: F811
    page = home.root / "public" / f"{MONTH}.html"
    with _loaded(home, tmp_path) as (browser, evaluate):
        assert _requests(browser) == {page.as_uri()}, "the public page asked the network for something"
        assert evaluate(SECTIONS) == ["agreement", "deliveries", "mission"]
        width, height = evaluate(
            "(b => [b.width, b.height])(document.getElementById('mission-chart').getBoundingClientRect())"
        )
        assert width > 0 and height > 0
        assert evaluate("document.querySelectorAll('a, script, img, iframe, link[rel=stylesheet]').length") == 0


def test_a_section_the_board_did_not_approve_is_not_on_the_page(home, board, monkeypatch, tmp_path):  # noqa: F811
    def deliveries_only(raw):
        raw["public_account"] = {"sections": ["deliveries"]}

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("deliveries-only", deliveries_only)))
    with _loaded(home, tmp_path) as (browser, evaluate):
        assert evaluate(SECTIONS) == ["deliveries"]
        assert evaluate("document.body.innerText.includes('Halve violence')") is False
        assert len(_requests(browser)) == 1
