from django.urls import path

from . import views

urlpatterns = [
    path("studies/", views.study_list, name="study-list"),
    path("studies/<slug:slug>/", views.study_overview, name="study-overview"),
    path("studies/<slug:slug>/recompute/", views.study_recompute, name="study-recompute"),
]
