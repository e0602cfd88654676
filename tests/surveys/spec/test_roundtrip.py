"""Export, import into an empty database, export again: the same file."""

import pytest

from surveys import groups, kinds
from surveys.models import Study
from surveys.spec.io import dump, load_text
from surveys.spec.service import apply_spec, export_spec

pytestmark = pytest.mark.django_db


def test_the_every_kind_file_covers_every_kind_the_platform_supports(every_kind):
    written = {item["kind"] for item in every_kind["items"]}
    assert written == set(kinds.values(group_only=False)) | set(groups.BY_VALUE)
    # Options exist only inside a multiple-choice question (and matrix statements are Likert items).
    assert {groups.BY_VALUE[k].member_kind for k in written if k in groups.BY_VALUE} >= set(kinds.values(group_only=True))


def test_every_kind_round_trips_byte_for_byte(every_kind_text, every_kind):
    study = apply_spec(data=every_kind).study
    assert dump(export_spec(study)) == every_kind_text
    assert dump(export_spec(study), "json") == dump(load_text(every_kind_text), "json")


def test_export_import_into_an_empty_database_gives_the_same_file(every_kind):
    first = dump(export_spec(apply_spec(data=every_kind).study))
    Study.objects.all().delete()
    assert not Study.objects.exists()
    again = dump(export_spec(apply_spec(data=load_text(first)).study))
    assert again == first


def test_the_demo_round_trips_apart_from_the_renamed_slug(demo_study):
    text = dump(export_spec(demo_study))
    copy = apply_spec(data=load_text(text), slug="demo-copy").study
    assert dump(export_spec(copy)) == text.replace("slug: demo\n", "slug: demo-copy\n", 1)
    assert copy.status == Study.Status.DRAFT and copy.participants.count() == 0


def test_json_is_accepted_as_well(every_kind):
    text = dump(every_kind, "json")
    study = apply_spec(data=load_text(text)).study
    assert export_spec(study) == every_kind


def test_importing_the_same_file_again_changes_nothing(every_kind):
    apply_spec(data=every_kind)
    result = apply_spec(data=every_kind)
    assert not result.created and result.changes == []


def test_offsets_count_from_the_anchor(every_kind):
    import datetime as dt

    wave = every_kind["waves"][0]
    del wave["opens_at"], wave["closes_at"]
    wave.update(opens_after_days=0, closes_after_days=7.5)
    anchor = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    study = apply_spec(data=every_kind, anchor=anchor).study
    first = study.waves.get(number=1)
    assert first.opens_at == anchor and first.closes_at == anchor + dt.timedelta(days=7, hours=12)


def test_the_demo_study_is_defined_by_the_example_file(demo_study, settings):
    from pathlib import Path

    example = load_text((Path(settings.BASE_DIR) / "examples" / "demo-study.yaml").read_text())
    exported = export_spec(demo_study)
    for key in ("study", "consent", "arms", "items", "pages", "messages", "completion", "retention"):
        assert exported[key] == example[key], key
    assert [w["items"] for w in exported["waves"]] == [w["items"] for w in example["waves"]]


def test_the_cross_section_fields_round_trip(every_kind):
    every_kind["study"]["design"] = "cross_section"
    every_kind["study"]["weight_kind"] = "sampling"
    every_kind["waves"][0]["period"] = "1974"
    study = apply_spec(data=every_kind).study
    assert (study.design, study.weight_kind) == ("cross_section", "sampling")
    assert study.waves.get(number=1).period == "1974"
    exported = export_spec(study)
    assert exported["study"]["design"] == "cross_section" and exported["waves"][0]["period"] == "1974"
    Study.objects.all().delete()
    assert dump(export_spec(apply_spec(data=load_text(dump(exported))).study)) == dump(exported)


def test_translated_texts_follow_the_declared_language_order(every_kind):
    every_kind["study"]["title"] = dict(reversed(list(every_kind["study"]["title"].items())))
    study = apply_spec(data=every_kind).study
    assert list(export_spec(study)["study"]["title"]) == [
        lang for lang in every_kind["study"]["languages"] if lang in every_kind["study"]["title"]]
