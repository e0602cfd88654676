from django.urls import path

from analysis.dashboards import plan_views, views

urlpatterns = [
    path("studies/", views.study_list, name="study-list"),
    path("studies/<slug:slug>/", views.study_overview, name="study-overview"),
    path("studies/<slug:slug>/recompute/", views.study_recompute, name="study-recompute"),
    path("studies/<slug:slug>/trends/", views.study_trends, name="study-trends"),
    path("studies/<slug:slug>/distributions/", views.study_distributions, name="study-distributions"),
    path("studies/<slug:slug>/effects/", views.study_effects, name="study-effects"),
    path("studies/<slug:slug>/glossary/", views.study_glossary, name="study-glossary"),
    path("studies/<slug:slug>/plan/", plan_views.study_plan, name="study-plan"),
    path("studies/<slug:slug>/quality/", views.study_quality, name="study-quality"),
    path("studies/<slug:slug>/quality/exclude/", views.study_exclude, name="study-exclude"),
]
