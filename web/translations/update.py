"""Refresh the catalogs after strings changed in the code or templates.

    .venv/bin/python web/translations/update.py

Extracts every translatable string (templates' _(), gettext(), the
library's ConfigError messages and the names in web.i18n.DYNAMIC) into
messages.pot and merges it into each language's messages.po, keeping the
translations that exist. Translate new entries in ru/LC_MESSAGES/messages.po
(Poedit works); tests/unit/test_i18n.py fails while one is missing.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
sys.path.insert(0, str(TOP))


def extract() -> Catalog:
    pot = HERE / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(HERE / "babel.cfg"),
                    "-k", "gettext", "-k", "_", "-k", "ConfigError:2", "-k", "check_match:4",
                    "--no-location", "--omit-header", "--sort-output", "-o", str(pot), "."],
                   cwd=TOP, check=True, capture_output=True)
    with open(pot, "rb") as f:
        catalog = read_po(f)
    from web.i18n import DYNAMIC
    for msg in DYNAMIC:
        catalog.add(msg)
    return catalog


def merge(template: Catalog, lang: str) -> None:
    po = HERE / lang / "LC_MESSAGES" / "messages.po"
    old = {}
    if po.exists():
        with open(po, "rb") as f:
            old = {m.id: m.string for m in read_po(f) if m.id}
    out = Catalog(locale=lang, project="Korund", charset="utf-8")
    for m in sorted(template, key=lambda m: m.id or ""):
        if m.id:
            out.add(m.id, old.get(m.id, "") if lang != "en" else "")
    po.parent.mkdir(parents=True, exist_ok=True)
    with open(po, "wb") as f:
        write_po(f, out, omit_header=False, width=100)


if __name__ == "__main__":
    template = extract()
    for lang in ("ru", "en"):
        merge(template, lang)
    print(f"{len(template)} messages")
