from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        # The one documented way `surveys` reaches `analysis` (docs/architecture.md: layers point down).
        from django.db.models.signals import post_delete, post_save

        from analysis import receivers
        from surveys.models import Participant, Study
        from surveys.signals import answers_changed, wave_closed

        wave_closed.connect(receivers.on_wave_closed, dispatch_uid="analysis.on_wave_closed")
        answers_changed.connect(receivers.on_answers_changed, dispatch_uid="analysis.on_answers_changed")
        post_save.connect(receivers.on_study_saved, sender=Study, dispatch_uid="analysis.on_study_saved")
        post_delete.connect(receivers.on_participant_deleted, sender=Participant,
                            dispatch_uid="analysis.on_participant_deleted")
