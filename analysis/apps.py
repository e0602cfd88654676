from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        # The one documented way `surveys` reaches `analysis` (docs/architecture.md: layers point down).
        from analysis import receivers
        from surveys.signals import answers_changed, wave_closed

        wave_closed.connect(receivers.on_wave_closed, dispatch_uid="analysis.on_wave_closed")
        answers_changed.connect(receivers.on_answers_changed, dispatch_uid="analysis.on_answers_changed")
