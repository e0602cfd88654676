from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Studies and data collection"

    def ready(self):
        from django.db.models.signals import post_save

        from surveys import summaries
        from surveys.models import Exclusion, Message, Participant, Study, Submission, Wave

        post_save.connect(summaries.study_saved, sender=Study, dispatch_uid="surveys.summaries.study_saved")
        post_save.connect(summaries.wave_saved, sender=Wave, dispatch_uid="surveys.summaries.wave_saved")
        for model, receiver in ((Participant, summaries.participant_saved), (Submission, summaries.submission_saved),
                                (Exclusion, summaries.exclusion_saved), (Message, summaries.message_saved)):
            post_save.connect(receiver, sender=model, dispatch_uid=f"surveys.summaries.{receiver.__name__}")
