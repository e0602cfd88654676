"""The built-in item bank (surveys/spec/bank.yaml): topic-free items and instruments with their
source references and translations, added to a study's specification in one step."""

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from surveys.spec.io import load_text

BANK_FILE = Path(__file__).with_name("bank.yaml")


@dataclass(frozen=True)
class BankEntry:
    key: str
    instrument: str
    source: str
    item: dict

    @property
    def languages(self) -> list[str]:
        return list(self.item["prompt"])


@cache
def bank_entries() -> tuple[BankEntry, ...]:
    data = load_text(BANK_FILE.read_text(encoding="utf-8"), name=str(BANK_FILE))
    return tuple(BankEntry(**entry) for entry in data["entries"])


def get_entry(key: str) -> BankEntry | None:
    return next((e for e in bank_entries() if e.key == key), None)


def _in_languages(texts: dict, languages: list[str]) -> dict:
    kept = {lang: text for lang, text in texts.items() if lang in languages}
    if not kept and texts:  # the bank has no translation: the English text stands in the default language
        kept = {languages[0]: texts.get("en") or next(iter(texts.values()))}
    return kept


def add_from_bank(spec: dict, keys: list[str]) -> tuple[dict, list[str]]:
    """`spec` with the bank items `keys` appended (a code already taken gets a suffix), their
    texts in the study's languages, and every attitude or attention item asked in every wave.
    Returns the new spec and the codes added; unknown keys are skipped."""
    spec = copy.deepcopy(spec)
    languages = spec["study"]["languages"]
    taken = {item["code"] for item in spec.get("items", [])}
    added = []
    for key in keys:
        entry = get_entry(key)
        if entry is None:
            continue
        item = copy.deepcopy(entry.item)
        code, n = item["code"], 2
        while code in taken:
            code, n = f"{item['code']}_{n}", n + 1
        item["code"] = code
        item["prompt"] = _in_languages(item["prompt"], languages)
        if item.get("labels"):
            item["labels"] = _in_languages(item["labels"], languages)
        spec.setdefault("items", []).append(item)
        taken.add(code)
        added.append(code)
        if item.get("role", "attitude") != "grouping":
            for wave in spec.get("waves", []):
                wave.setdefault("items", []).append(code)
    return spec, added
