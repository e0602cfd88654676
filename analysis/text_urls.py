"""Researcher pages for text corpora and series correlation (issue 10)."""

urlpatterns: list = []
