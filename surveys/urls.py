"""Participant web survey URLs (DESIGN section 5): /s/<slug>/ and /p/<token>/..."""

app_name = "surveys"
urlpatterns: list = []
