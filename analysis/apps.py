from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        # The one documented way `surveys` reaches `analysis` (STYLE.md: layers point down).
        from surveys.signals import wave_closed

        from . import receivers

        wave_closed.connect(receivers.on_wave_closed, dispatch_uid="analysis.on_wave_closed")
