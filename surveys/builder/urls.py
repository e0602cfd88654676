"""Builder pages: /studies/new/ and /studies/<slug>/design/ (owners write; analysts and viewers read).
Included before the dashboards' /studies/<slug>/ so that "new" is never read as a slug."""

from django.urls import path

from surveys.builder import views

app_name = "builder"
urlpatterns = [
    path("studies/new/", views.study_new, name="new"),
    path("studies/<slug:slug>/design/", views.study_design, name="design"),
    path("studies/<slug:slug>/design/preview/", views.design_preview, name="preview"),
]
