"""Benchmark of the per-item work of the participant page: `python bench/answer_page.py [--items 10]`.

Each item is asked as its kind says (surveys/kinds.py), so the participant page's per-item
work goes through the registry of kinds. Timed in-process, without a database (unsaved items
of every kind; answers of the fast path):

1. `quick_answers` on a posted page of Likert and text answers: what every submission runs;
2. building the page's rows and rendering each through templates/surveys/_item.html and its
   kind's partial: what a first visit runs once per process and item (then cached) and what a
   page with errors runs each time.

Prints CPU microseconds per page (process time, best of 5 repeats: other work on the machine
inflates wall time, not this); asserts nothing about time. The whole request
(token lookup, the wave's items, the insert) is `bench/submit.py`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disagreement.settings")

import django  # noqa: E402

django.setup()

from django.template.loader import render_to_string  # noqa: E402

from surveys.forms import AnswerPageForm, quick_answers  # noqa: E402
from surveys.models import Item, Study  # noqa: E402


def page(n_items: int) -> tuple[list[Item], dict[str, str]]:
    """`n_items` 7-point Likert items (one with "don't know") and a free-text item, plus a slider
    for the rendering; the posted answers of the Likert and text items."""
    study = Study(slug="bench", title="bench", languages=["en"])
    labels = {"en": {"1": "Strongly disagree", "7": "Strongly agree"}}
    items = [Item(study=study, code=f"q{i}", prompt={"en": f"Question {i}"}, kind=Item.Kind.LIKERT, scale_min=1,
                  scale_max=7, step=1, labels=labels, dont_know=(i == 1)) for i in range(n_items)]
    items.append(Item(study=study, code="story", prompt={"en": "A story"}, kind=Item.Kind.TEXT))
    data = {f"i_{item.code}": "5" for item in items}
    data["i_q1"], data["i_story"] = "dk", "We argued about dinner."
    return items, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10, help="Likert items on the page (default 10)")
    options = parser.parse_args()
    items, data = page(options.items)
    if quick_answers(data, items) is None:
        raise SystemExit("the fast path refused the page")
    runs = 20_000
    quick = min(timeit.repeat(lambda: quick_answers(data, items), number=runs, repeat=5, timer=time.process_time)) / runs * 1e6
    slider = Item(study=items[0].study, code="warmth", prompt={"en": "Warmth"}, kind=Item.Kind.SLIDER, scale_min=0,
                  scale_max=100, step=1, dont_know=True, labels={"en": {"0": "cold", "100": "warm"}})
    shown = [*items, slider]

    def render() -> str:
        return "".join(render_to_string("surveys/_item.html", {"row": row})
                       for row in AnswerPageForm(items=shown, language="en").rows())

    render()
    runs = 200
    rendered = min(timeit.repeat(render, number=runs, repeat=5, timer=time.process_time)) / runs * 1e6
    print(f"quick_answers, {len(items)} items: {quick:.1f} us CPU per page")
    print(f"rows + render, {len(shown)} items (uncached): {rendered:.0f} us CPU per page")


if __name__ == "__main__":
    main()
