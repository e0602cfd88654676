from django.urls import path

from analysis.dashboards import plan_views, views
from analysis.report import views as report_views

urlpatterns = [
    path("studies/", views.study_list, name="study-list"),
    path("studies/<slug:slug>/", views.study_overview, name="study-overview"),
    path("studies/<slug:slug>/recompute/", views.study_recompute, name="study-recompute"),
    path("studies/<slug:slug>/trends/", views.study_trends, name="study-trends"),
    path("studies/<slug:slug>/distributions/", views.study_distributions, name="study-distributions"),
    path("studies/<slug:slug>/effects/", views.study_effects, name="study-effects"),
    path("studies/<slug:slug>/glossary/", views.study_glossary, name="study-glossary"),
    path("studies/<slug:slug>/plan/", plan_views.study_plan, name="study-plan"),
    path("studies/<slug:slug>/report/", report_views.study_report, name="study-report"),
    path("studies/<slug:slug>/report/build/", report_views.study_report_build, name="study-report-build"),
    path("studies/<slug:slug>/report/download/", report_views.study_report_download, name="study-report-download"),
    path("studies/<slug:slug>/report/view/", report_views.study_report_view, name="study-report-view"),
    path("studies/<slug:slug>/quality/", views.study_quality, name="study-quality"),
    path("studies/<slug:slug>/quality/exclude/", views.study_exclude, name="study-exclude"),
]
