"""Participant web survey URLs (docs/contracts.md): /s/<slug>/ and /p/<token>/..., and the
researcher preview /studies/<slug>/preview/ (the other researcher pages come from another app)."""

from django.urls import path

from surveys.views import attrition as attrition_views
from surveys.views import contact as contact_views
from surveys.views import participant as views
from surveys.views import tokens as token_views

app_name = "surveys"
urlpatterns = [
    path("s/<slug:slug>/", views.landing, name="landing"),
    path("p/<str:secret>/", views.participant, name="participant"),
    path("p/<str:secret>/withdraw/", views.withdraw, name="withdraw"),
    path("p/<str:secret>/my-data/", views.my_data, name="my_data"),
    path("studies/<slug:slug>/preview/", views.preview, name="preview"),
    path("account/tokens/", token_views.token_list, name="api_tokens"),
    path("account/tokens/<int:pk>/revoke/", token_views.token_revoke, name="api_token_revoke"),
    path("u/<str:token>/", contact_views.unsubscribe, name="unsubscribe"),
    path("studies/<slug:slug>/attrition/", attrition_views.study_attrition, name="attrition"),
    path("studies/<slug:slug>/waves/<int:number>/prolific-completed.csv", attrition_views.prolific_completions,
         name="prolific_completions"),
]
