"""OpenAPI schema at /api/schema/ and docs at /api/docs/ served from our own static files."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

PATHS = ["/api/v1/studies/", "/api/v1/studies/{slug}/", "/api/v1/studies/{slug}/items/",
         "/api/v1/studies/{slug}/items/{code}/", "/api/v1/studies/{slug}/waves/",
         "/api/v1/studies/{slug}/waves/{number}/", "/api/v1/studies/{slug}/arms/",
         "/api/v1/studies/{slug}/arms/{name}/", "/api/v1/studies/{slug}/participants/",
         "/api/v1/studies/{slug}/responses/", "/api/v1/studies/{slug}/indices/", "/api/v1/studies/{slug}/effects/",
         "/api/v1/studies/{slug}/export/", "/api/v1/studies/{slug}/export/codebook/",
         "/api/v1/studies/{slug}/recompute/", "/api/v1/studies/{slug}/spec/", "/api/v1/spec/validate/",
         "/api/v1/schema/study-spec.json"]


def test_the_schema_is_openapi_3_with_every_endpoint_and_the_token_scheme(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert sorted(schema["paths"]) == sorted(PATHS)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"]}
    export = schema["paths"]["/api/v1/studies/{slug}/export/"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"text/csv", "application/vnd.apache.parquet",
                                                          "application/x-spss-sav", "application/x-stata-dta"}
    assert {"401", "403", "404", "400"} <= set(export["responses"])
    formats = next(p for p in export["parameters"] if p["name"] == "format")
    assert sorted(formats["schema"]["enum"]) == ["csv", "dta", "parquet", "sav"]


def test_the_docs_load_nothing_from_another_host(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert urls and all(url.startswith("/") for url in urls), urls
    for url in urls:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
