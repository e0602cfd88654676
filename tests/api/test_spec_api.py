"""The study specification over the API: GET any member, PUT owners, validate, the schema."""

import pytest

from surveys.models import DesignChange
from surveys.spec.io import dump, load_text
from surveys.spec.service import export_spec

pytestmark = pytest.mark.django_db


def test_any_member_reads_the_spec_as_json_or_yaml(data, viewer_client):
    response = viewer_client.get("/api/v1/studies/panel/spec/")
    assert response.status_code == 200
    assert response.json() == export_spec(data.study)
    response = viewer_client.get("/api/v1/studies/panel/spec/?format=yaml")
    assert response["Content-Type"].startswith("application/yaml")
    assert response.content.decode() == dump(export_spec(data.study))


def test_an_owner_replaces_the_design_and_sees_the_changes(data, owner_client):
    spec = export_spec(data.study)
    spec["study"]["title"] = {"en": "A new title"}
    response = owner_client.put("/api/v1/studies/panel/spec/", spec, format="json")
    assert response.status_code == 200, response.content
    assert [c["path"] for c in response.json()["changes"]] == ["study.title.en"]
    data.study.refresh_from_db()
    assert data.study.title == "A new title"
    assert owner_client.put("/api/v1/studies/panel/spec/", export_spec(data.study), format="json").json()[
        "changes"] == []  # an exported spec is what is stored, to the microsecond


def test_yaml_bodies_are_accepted(data, owner_client):
    spec = export_spec(data.study)
    spec["pages"]["items_per_page"] = 2
    response = owner_client.put("/api/v1/studies/panel/spec/?dry_run=true", dump(spec),
                                content_type="application/yaml")
    assert response.status_code == 200, response.content
    assert response.json()["changes"] == [{"path": "pages.items_per_page", "before": 4, "after": 2}]
    data.study.refresh_from_db()
    assert data.study.items_per_page == 4


def test_the_same_refusals_and_messages_as_the_command(data, owner_client):
    spec = export_spec(data.study)
    spec["waves"] = spec["waves"][:1]
    response = owner_client.put("/api/v1/studies/panel/spec/", spec, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "The change would invalidate collected data"
    assert any(p.startswith("waves: wave 2 cannot be removed") for p in body["problems"])
    spec = export_spec(data.study)
    spec["waves"][0]["items"].append("q9")
    response = owner_client.put("/api/v1/studies/panel/spec/", spec, format="json")
    assert response.status_code == 400
    assert response.json()["problems"] == [f'waves[0].items[{len(spec["waves"][0]["items"]) - 1}]: '
                                           'unknown item code "q9"']


def test_a_spec_of_another_slug_is_refused(data, owner_client):
    spec = export_spec(data.study)
    spec["study"]["slug"] = "elsewhere"
    response = owner_client.put("/api/v1/studies/panel/spec/", spec, format="json")
    assert response.status_code == 400
    assert "is not this study" in response.json()["problems"][0]


def test_analysts_and_viewers_may_not_put(data, analyst_client, viewer_client):
    spec = export_spec(data.study)
    for client in (analyst_client, viewer_client):
        assert client.put("/api/v1/studies/panel/spec/", spec, format="json").status_code == 403
    assert not DesignChange.objects.exists()


def test_validate_writes_nothing_and_lists_problems(data, viewer_client):
    spec = export_spec(data.study)
    response = viewer_client.post("/api/v1/spec/validate/", spec, format="json")
    assert response.status_code == 200 and response.json()["problems"] == []
    spec["arms"][0]["weight"] = 0
    response = viewer_client.post("/api/v1/spec/validate/", dump(spec), content_type="application/yaml")
    assert response.status_code == 400
    assert response.json()["problems"] == ["arms[0].weight: 0 is less than the minimum of 1"]
    response = viewer_client.post("/api/v1/spec/validate/", "a: [", content_type="application/yaml")
    assert response.status_code == 400 and "not valid YAML" in response.json()["detail"]


def test_the_schema_is_served(data, viewer_client, anonymous_client):
    from surveys.spec.schema import build_schema

    response = viewer_client.get("/api/v1/schema/study-spec.json")
    assert response.status_code == 200 and response.json() == build_schema()
    assert anonymous_client.get("/api/v1/schema/study-spec.json").status_code == 401
    assert anonymous_client.post("/api/v1/spec/validate/", {}, format="json").status_code == 401


def test_a_spec_read_from_the_api_imports_elsewhere(data, owner_client):
    from surveys.spec.service import apply_spec

    text = owner_client.get("/api/v1/studies/panel/spec/?format=yaml").content.decode()
    copy = apply_spec(data=load_text(text), slug="panel-copy").study
    assert dump(export_spec(copy)) == text.replace("slug: panel\n", "slug: panel-copy\n", 1)


def test_design_api_writes_to_a_launched_study_are_logged_and_in_the_codebook(data, owner_client, analyst_client):
    data.study.status = "active"
    data.study.save()
    response = owner_client.patch("/api/v1/studies/panel/items/reasons/", {"prompt": {"en": "Edited"}}, format="json")
    assert response.status_code == 200
    # The PATCH replaced the whole prompt: the German text went too.
    assert list(DesignChange.objects.order_by("path").values_list("path", "after", "username", "source")) == [
        ("items.reasons.prompt.de", None, "owner", "api"), ("items.reasons.prompt.en", "Edited", "owner", "api")]
    codebook = analyst_client.get("/api/v1/studies/panel/export/codebook/").json()
    assert sorted((c["path"], c["after"], c["by"]) for c in codebook["design_changes"]) == [
        ("items.reasons.prompt.de", None, "owner"), ("items.reasons.prompt.en", "Edited", "owner")]
    csv_text = analyst_client.get("/api/v1/studies/panel/export/codebook/?format=csv").content.decode()
    assert 'design_change,items.reasons.prompt.en,' in csv_text and '-> ""Edited"" (owner, api,' in csv_text


def test_an_empty_format_is_a_400_and_put_always_answers_json(data, owner_client):
    assert owner_client.get("/api/v1/studies/panel/spec/?format=").status_code == 400
    response = owner_client.put("/api/v1/studies/panel/spec/?format=yaml", {}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
