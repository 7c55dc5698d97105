"""Refresh the translation catalogs from the code: ``python scripts/i18n_catalog.py``.

Every string marked ``_()`` or ``N_()`` in ``core/`` and ``bots/`` lands in each
language's ``.po`` file; existing translations are kept, new strings arrive empty
and stale ones are dropped. Translate the empty ones; ``tests/test_i18n.py`` fails
until every string has a translation.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "locale_str": None}


def extract() -> Catalog:
    template = Catalog(domain="picloud")
    for folder in ("core", "bots"):
        for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS
        ):
            template.add(message, locations=[(f"{folder}/{filename}", lineno)], context=context)
    return template


def refresh(language: str, template: Catalog) -> Path:
    path = ROOT / "core" / "locales" / language / "LC_MESSAGES" / "picloud.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as existing:
            catalog = read_po(existing, locale=language, domain="picloud")
    else:
        catalog = Catalog(locale=language, domain="picloud")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.fuzzy = False  # the header: a fuzzy header would hide the charset
    catalog.project, catalog.version = "picloud-bots", "0.1"
    with path.open("wb") as output:
        write_po(output, catalog, omit_header=False, ignore_obsolete=True, width=100)
    return path


if __name__ == "__main__":
    template = extract()
    for language in ("ru",):
        print(refresh(language, template))
