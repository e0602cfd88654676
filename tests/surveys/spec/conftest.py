from pathlib import Path

import pytest

from surveys.spec.io import load_text

EVERY_KIND = Path(__file__).with_name("every_kind.yaml")


@pytest.fixture
def every_kind_text() -> str:
    return EVERY_KIND.read_text(encoding="utf-8")


@pytest.fixture
def every_kind(every_kind_text) -> dict:
    return load_text(every_kind_text)
