from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from disagreement import views

handler400 = "common.errors.bad_request"
handler500 = "common.errors.server_error"

admin.site.site_header = "disagreement"
admin.site.site_title = "disagreement"
admin.site.index_title = "Studies, items, waves and participants"

urlpatterns = [
    path("", RedirectView.as_view(url="/studies/", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("disagreement.api_urls")),
    path("", include("surveys.builder.urls")),
    path("", include("analysis.dashboards.urls")),
    path("", include("analysis.series.urls")),
    path("", include("surveys.urls")),
]
