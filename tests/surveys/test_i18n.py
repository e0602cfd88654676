"""The German catalogue is complete and compiled from the .po that is committed."""

import gettext
import re
from pathlib import Path

from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"


def po_entries(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        msgid = re.search(r'^msgid "(.*)"$', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? "(.*)"$', block, re.M)
        if msgid and msgid.group(1):
            entries[msgid.group(1).encode().decode("unicode_escape").encode("latin-1").decode("utf-8")] = (
                msgstr.group(1) if msgstr else "")
    return entries


def test_every_german_message_is_translated_and_compiled():
    entries = po_entries(LOCALE / "django.po")
    assert len(entries) > 100
    untranslated = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert untranslated == []
    with (LOCALE / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = [msgid for msgid in entries if "%(n)s preview run" not in msgid and catalogue.gettext(msgid) == msgid]
    assert stale == []  # the .mo holds every .po entry: recompile after editing the .po
