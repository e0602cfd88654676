"""A static-files finder that serves plotly.js from the installed `plotly` Python package.

The dashboards' figures are built by plotly (Python) and drawn by plotly.js; the Python package
ships the matching `plotly.min.js` in its package data. Serving that file (instead of a
committed copy or a CDN) keeps the two versions in step whenever plotly is upgraded, and keeps
4.8 MB of minified JavaScript out of the repository. It is the only file exposed: the package
data also holds a widget bundle and datasets that must not become public static files.

`runserver`, the test live server and WhiteNoise (development) find it through this finder;
`collectstatic` copies it into STATIC_ROOT like any other static file (production).
"""

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

#: The URL path under STATIC_URL, as templates use it: {% static PLOTLY_STATIC_PATH %}.
PLOTLY_STATIC_PATH = "analysis/vendor/plotly.min.js"


def plotly_package_data() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class _PrefixedStorage(FileSystemStorage):
    """A storage rooted at plotly's package data whose files appear under `analysis/vendor/`."""

    prefix = "analysis/vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = _PrefixedStorage(location=str(plotly_package_data()))

    def check(self, **kwargs):
        from django.core.checks import Error

        if not (plotly_package_data() / "plotly.min.js").is_file():
            return [Error("plotly.min.js is missing from the plotly package; reinstall plotly.",
                          id="analysis.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != PLOTLY_STATIC_PATH:
            return [] if find_all else None
        match = str(plotly_package_data() / "plotly.min.js")
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
