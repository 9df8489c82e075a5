"""Russian and English for the panel, from gettext catalogs a translator can
edit (``web/translations/<lang>/LC_MESSAGES/messages.po``, e.g. in Poedit).

Source strings are English; Russian is the default language. Messages with
``{name}`` placeholders are translated first and filled in after, so the
library's validation messages (``ConfigError``) translate too.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = {"ru": "Русский", "en": "English"}

# Strings shown through a variable (roles, outcomes, audit actions, settings
# labels): the extractor cannot see them, so they are listed here.
DYNAMIC = (
    "admin", "supervisor", "operator", "technician",
    "answered", "abandoned",
    "login", "logout", "login failed", "first admin created", "setup code refused", "password changed",
    "certificate replaced", "certificate refused",
    "sip address banned", "sip ban lifted", "sip ban expired", "sip guard settings changed",
    "API token created", "API token revoked", "apply", "apply refused",
    "trunk added", "trunk changed", "trunk deleted", "span added", "span changed", "span deleted",
    "operator added", "operator changed", "operator deleted", "group added", "group changed",
    "group deleted", "user added", "user changed", "user deleted", "settings changed",
    "scenario added", "scenario draft saved", "scenario published", "scenario rolled back", "number bound",
    "number unbound", "schedule added", "schedule changed", "schedule deleted",
    "health read", "diagnostics run", "support bundle",
    "Language of callers' prompts", "Default language of the panel",
    "Session cookie only over HTTPS (1 = yes, 0 = no)",
)
DEFAULT = "ru"
CATALOGS = Path(__file__).parent / "translations"


def _(message: str) -> str:
    """Marks *message* for the catalogs and returns it untranslated: for text
    kept in English and translated where it is shown (audit actions are
    stored in English and the audit page translates them; names shown
    through the templates' _() or gettext())."""
    return message


def load_catalogs(directory: Path = CATALOGS) -> dict[str, dict[str, str]]:
    catalogs = {}
    for lang in LANGUAGES:
        po = directory / lang / "LC_MESSAGES" / "messages.po"
        entries = {}
        if po.exists():
            with open(po, "rb") as f:
                for msg in read_po(f, locale=lang):
                    if msg.id and msg.string and not msg.fuzzy:
                        entries[msg.id] = msg.string
        catalogs[lang] = entries
    return catalogs


class Translator:
    def __init__(self, catalogs: dict[str, dict[str, str]]):
        self.catalogs = catalogs

    def gettext(self, lang: str, message: str, **params) -> str:
        text = self.catalogs.get(lang, {}).get(message, message)
        if params:
            params = {k: self.catalogs.get(lang, {}).get(v, v) if isinstance(v, str) else v
                      for k, v in params.items()}
            return text.format(**params)
        return text

    def config_error(self, lang: str, exc) -> str:
        """A ConfigError's message in *lang*."""
        return self.gettext(lang, exc.message, **exc.params)
