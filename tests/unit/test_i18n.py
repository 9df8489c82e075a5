"""The Russian catalog covers every string the panel can show, with the same
placeholders; English needs none (it is the source language)."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from web import i18n
from appliance.base.errors import ConfigError
from appliance.base.errors import check_host

TOP = Path(__file__).resolve().parents[2]
KEYWORDS = {"gettext": None, "_": None, "ConfigError": (2,), "check_match": (4,)}


def used_messages() -> set[str]:
    found = set(i18n.DYNAMIC)
    for sub, method in (("appliance", "python"), ("web", "python"), ("web/templates", "jinja2")):
        pattern = "**.html" if method == "jinja2" else "**.py"
        for _file, _line, msg, _comments, _ctx in extract_from_dir(
                TOP / sub, method_map=[(pattern, method)], keywords=KEYWORDS):
            if isinstance(msg, str) and msg:
                found.add(msg)
    return found


def test_every_string_has_a_russian_translation():
    ru = i18n.load_catalogs()["ru"]
    missing = sorted(m for m in used_messages() if m not in ru)
    assert not missing, f"translate in web/translations/ru/LC_MESSAGES/messages.po: {missing}"


def test_translations_keep_the_placeholders():
    for msgid, text in i18n.load_catalogs()["ru"].items():
        assert set(re.findall(r"\{(\w+)\}", msgid)) == set(re.findall(r"\{(\w+)\}", text)), msgid


def test_config_errors_translate_with_their_values():
    t = i18n.Translator(i18n.load_catalogs())
    try:
        check_host("bad host;")
    except ConfigError as exc:
        assert t.config_error("ru", exc) == "«bad host;» — не IP-адрес и не имя узла"
        assert t.config_error("en", exc) == "'bad host;' is not an IP address or host name"
