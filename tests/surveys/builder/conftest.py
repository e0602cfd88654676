"""Fixtures the builder tests share (defined with the page tests)."""

from tests.surveys.builder.test_builder_pages import built, every_kind  # noqa: F401
