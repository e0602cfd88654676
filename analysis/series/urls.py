"""Researcher pages for text corpora and series correlation."""

from django.urls import path

from analysis.series import views as text_views

urlpatterns = [
    path("studies/<slug:slug>/text/", text_views.text_index, name="text-index"),
    path("studies/<slug:slug>/text/import/corpus/", text_views.text_import, {"kind": "corpus"},
         name="text-import-corpus"),
    path("studies/<slug:slug>/text/import/outcome/", text_views.text_import, {"kind": "outcome"},
         name="text-import-outcome"),
    path("studies/<slug:slug>/text/relate/", text_views.text_relate, name="text-relate"),
    path("studies/<slug:slug>/text/series/<int:pk>/delete/", text_views.text_series_delete,
         name="text-series-delete"),
]
