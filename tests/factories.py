"""factory_boy factories for the study data model."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from surveys import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"researcher{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("a-long-test-password")
    is_staff = True


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Study

    slug = factory.Sequence(lambda n: f"study-{n}")
    title = factory.Sequence(lambda n: f"Study {n}")
    status = models.Study.Status.ACTIVE
    languages = ["en", "de"]


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    study = factory.SubFactory(StudyFactory)
    user = factory.SubFactory(UserFactory)
    role = models.Membership.Role.OWNER


class ConsentVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ConsentVersion

    study = factory.SubFactory(StudyFactory)
    version = factory.Sequence(lambda n: n + 1)
    text = {"en": "I agree to take part.", "de": "Ich bin einverstanden."}


class ItemFactory(factory.django.DjangoModelFactory):
    """A 7-point Likert attitude item."""

    class Meta:
        model = models.Item

    study = factory.SubFactory(StudyFactory)
    code = factory.Sequence(lambda n: f"item{n}")
    prompt = {"en": "People on the other side have good reasons.", "de": "Die andere Seite hat gute Gründe."}
    kind = models.Item.Kind.LIKERT
    role = models.Item.Role.ATTITUDE
    scale_min = 1
    scale_max = 7
    step = 1
    order = factory.Sequence(lambda n: n)


class GroupingItemFactory(ItemFactory):
    code = factory.Sequence(lambda n: f"side{n}")
    kind = models.Item.Kind.CHOICE
    role = models.Item.Role.GROUPING
    scale_max = 2
    labels = {"en": {"1": "left", "2": "right"}}


class WaveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Wave

    study = factory.SubFactory(StudyFactory)
    number = factory.Sequence(lambda n: n + 1)
    opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    closes_at = factory.LazyAttribute(lambda w: w.opens_at + dt.timedelta(days=7))
    state = models.Wave.State.OPEN


class ArmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Arm

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"arm-{n}")
    allocation_weight = 1
    is_control = False


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Participant

    study = factory.SubFactory(StudyFactory)
    language = "en"


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Submission

    participant = factory.SubFactory(ParticipantFactory)
    wave = factory.SubFactory(WaveFactory, study=factory.SelfAttribute("..participant.study"))


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Response

    submission = factory.SubFactory(SubmissionFactory)
    item = factory.SubFactory(ItemFactory, study=factory.SelfAttribute("..submission.participant.study"))
    value = 4
