"""Open data bundled with istv, credited in README.md (Open Government Licence v3.0): the
data.police.uk street-level files of the demo (`police_uk/`), the licensed premises of the
gazetteer (`open_pubs_cardiff.csv`), street names and points (`streets_cardiff.csv`) and the ONS
boundaries of the agreement's area (`boundaries/`). Found as package data, so that an installed
istv (not only a source checkout) finds them."""

from importlib.resources import files
from pathlib import Path

ROOT = Path(str(files(__name__)))
