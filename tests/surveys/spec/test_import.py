"""Updating a study from a spec: the diff, the refusals that protect collected data, the log."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from surveys.models import DesignChange, Study
from surveys.spec.io import dump, load_text
from surveys.spec.service import SpecInvalid, SpecRefused, apply_spec, export_spec
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_spec(demo_study):
    return export_spec(demo_study)


def _item(spec, code):
    return next(item for item in spec["items"] if item["code"] == code)


def _refusals(spec) -> list[str]:
    with pytest.raises(SpecRefused) as caught:
        apply_spec(data=spec)
    return caught.value.problems


def test_a_scale_change_of_an_answered_item_is_refused(demo_spec):
    _item(demo_spec, "threat")["scale"]["max"] = 5
    for label in demo_spec["items"][3]["labels"].values():
        for point in ("6", "7"):
            label.pop(point)
    reasons = _refusals(demo_spec)
    assert reasons == ['items[3]: the scale of "threat" cannot change (scale_max): it has '
                       f"{Study.objects.get(slug='demo').items.get(code='threat').responses.count()} answer(s); "
                       "add a new item instead"]


def test_removing_an_answered_wave_or_item_or_arm_is_refused(demo_spec):
    demo_spec["waves"] = demo_spec["waves"][:4]
    reasons = _refusals(demo_spec)
    assert any(r.startswith("waves: wave 5 cannot be removed: it has") for r in reasons), reasons

    spec = export_spec(Study.objects.get(slug="demo"))
    spec["items"] = [i for i in spec["items"] if i["code"] != "warmth"]
    for wave in spec["waves"]:
        wave["items"].remove("warmth")
    assert any(r.startswith('items: item "warmth" cannot be removed: it has') for r in _refusals(spec))

    spec = export_spec(Study.objects.get(slug="demo"))
    spec["arms"] = spec["arms"][:1]
    spec["waves"][2].pop("interventions")
    assert any(r.startswith('arms: arm "intervention" cannot be removed: ') for r in _refusals(spec))


def test_changing_consent_someone_gave_is_refused(demo_spec):
    demo_spec["consent"][0]["text"]["en"] = "New words."
    (reason,) = _refusals(demo_spec)
    assert reason.startswith("consent[0].text: the text of version 1 cannot change") and "add version 2" in reason


def test_the_design_of_a_study_with_participants_is_refused(demo_spec):
    demo_spec["study"]["design"] = "cross_section"
    (reason,) = _refusals(demo_spec)
    assert reason == "study.design: cannot change from 'panel' to 'cross_section': the study has participants"


def test_a_refused_import_changes_nothing(demo_spec, demo_study):
    before = dump(export_spec(demo_study))
    demo_spec["study"]["title"]["en"] = "Changed"
    demo_spec["waves"].pop()
    demo_spec["waves"].pop()  # wave 5 has answers
    with pytest.raises(SpecRefused):
        apply_spec(data=demo_spec)
    assert dump(export_spec(Study.objects.get(slug="demo"))) == before


def test_allowed_changes_of_a_launched_study_are_applied_and_logged(demo_spec, demo_study):
    owner = UserFactory(username="olga")
    demo_spec["study"]["title"]["en"] = "A better title"
    _item(demo_spec, "threat")["prompt"]["en"] = "People on the other side threaten the country."
    demo_spec["waves"][5]["closes_after_days"] = 1  # not a date: the wave's spec is rewritten below
    del demo_spec["waves"][5]["closes_after_days"]
    demo_spec["waves"][5]["closes_at"] = "2099-01-01T00:00:00Z"
    result = apply_spec(data=demo_spec, user=owner)
    paths = [c.path for c in result.changes]
    assert paths == ["study.title.en", "items.threat.prompt.en", "waves.6.closes_at"]
    log = list(DesignChange.objects.filter(study=demo_study).order_by("id"))
    assert [(c.path, c.after, c.username, c.source) for c in log] == [
        ("study.title.en", "A better title", "olga", "import"),
        ("items.threat.prompt.en", "People on the other side threaten the country.", "olga", "import"),
        ("waves.6.closes_at", "2099-01-01T00:00:00Z", "olga", "import"),
    ]
    assert log[0].before == "Demo: how far apart do we feel?"


def test_a_dry_run_reports_the_diff_and_writes_nothing(demo_spec, demo_study):
    demo_spec["pages"]["items_per_page"] = 3
    result = apply_spec(data=demo_spec, dry_run=True)
    assert [str(c) for c in result.changes] == ["~ pages.items_per_page: 5 -> 3"]
    demo_study.refresh_from_db()
    assert demo_study.items_per_page == 5
    assert not DesignChange.objects.exists()


def test_changes_before_launch_are_not_logged(every_kind):
    apply_spec(data=every_kind)
    every_kind["study"]["title"]["en"] = "Renamed"
    result = apply_spec(data=every_kind)
    assert [c.path for c in result.changes] == ["study.title.en"]
    assert not DesignChange.objects.exists()


def test_an_invalid_spec_is_refused_with_paths(every_kind):
    every_kind["waves"][1]["items"][0] = "q9"
    with pytest.raises(SpecInvalid) as caught:
        apply_spec(data=every_kind)
    assert caught.value.problems == ['waves[1].items[0]: unknown item code "q9"']
    assert not Study.objects.exists()


# --- The command ------------------------------------------------------------------------------------


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("study", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_validate_lists_every_problem_and_exits_2(tmp_path, every_kind):
    every_kind["waves"][1]["items"][0] = "q9"
    every_kind["arms"][0]["weight"] = 0
    path = tmp_path / "broken.yaml"
    path.write_text(dump(every_kind))
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("study", "validate", str(path), stderr=err)
    assert caught.value.returncode == 2
    assert err.getvalue().splitlines() == [f"{path}: arms[0].weight: 0 is less than the minimum of 1",
                                           f'{path}: waves[1].items[0]: unknown item code "q9"']


def test_export_import_dry_run_and_diff_through_the_command(tmp_path, every_kind):
    source = tmp_path / "in.yaml"
    source.write_text(dump(every_kind))
    owner = UserFactory(username="ada")
    _out, err = _run("import", str(source), "--owner", "ada")
    assert "Study every-kind was created." in err
    study = Study.objects.get(slug="every-kind")
    assert study.memberships.get().user == owner
    exported = tmp_path / "out.yaml"
    _run("export", "every-kind", "--output", str(exported))
    assert exported.read_text() == source.read_text()
    every_kind["items"][1]["prompt"]["en"] = "I agree a lot."
    source.write_text(dump(every_kind))
    out, err = _run("import", str(source), "--dry-run")
    assert out == '~ items.agree.prompt.en: "I agree." -> "I agree a lot."\n'
    assert "1 change(s) would be applied" in err
    assert study.items.get(code="agree").prompt["en"] == "I agree."
    json_out, _err = _run("export", "every-kind", "--format", "json")
    assert load_text(json_out) == load_text(exported.read_text())


def test_import_refuses_an_owner_who_may_not_edit(tmp_path, every_kind):
    apply_spec(data=every_kind)
    UserFactory(username="eve")
    source = tmp_path / "in.yaml"
    source.write_text(dump(every_kind))
    with pytest.raises(CommandError, match="does not allow you to change the study's design"):
        _run("import", str(source), "--owner", "eve")


def test_a_syntax_error_exits_2_with_line_and_column(tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text("study: [\n")
    with pytest.raises(CommandError, match=r"bad.yaml:\d+:\d+: not valid YAML") as caught:
        _run("validate", str(source))
    assert caught.value.returncode == 2


def test_the_schema_in_docs_is_the_one_the_code_builds(settings):
    import json
    from pathlib import Path

    from surveys.spec.schema import build_schema

    shipped = json.loads((Path(settings.BASE_DIR) / "docs" / "study-spec.schema.json").read_text())
    assert shipped == build_schema()


def test_texts_participants_read_are_sanitized(every_kind):
    every_kind["waves"][1]["interventions"][0]["content"]["en"] = '<p onclick="x()">Hi<script>alert(1)</script></p>'
    every_kind["consent"][0]["text"]["en"] = '<a href="javascript:alert(1)">Agree</a>'
    spec = export_spec(apply_spec(data=every_kind).study)
    assert spec["waves"][1]["interventions"][0]["content"]["en"] == "<p>Hi</p>"
    assert "javascript" not in spec["consent"][0]["text"]["en"]


def test_a_grouping_item_participants_answered_keeps_its_scale(demo_spec):
    side = _item(demo_spec, "side")
    side["scale"]["max"] = 3
    for labels in side["labels"].values():
        labels["3"] = "Neither"
    reasons = _refusals(demo_spec)
    assert len(reasons) == 1 and reasons[0].startswith('items[0]: the scale of "side" cannot change (scale_max)')
