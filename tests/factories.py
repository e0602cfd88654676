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


# --- Participant survey -------------------------------------------------------------------------


class ParticipantTokenFactory(factory.django.DjangoModelFactory):
    """A personal link; the secret is on `.secret` (the database keeps only its hash)."""

    class Meta:
        model = models.ParticipantToken

    participant = factory.SubFactory(ParticipantFactory)

    @classmethod
    def _create(cls, model_class, participant, **kwargs):
        token, secret = model_class.issue(participant, **kwargs)
        token.secret = secret
        return token


AGREE_LABELS = {
    "en": {"1": "Strongly disagree", "4": "Neither agree nor disagree", "7": "Strongly agree"},
    "de": {"1": "Stimme überhaupt nicht zu", "4": "Weder noch", "7": "Stimme voll und ganz zu"},
}


def make_survey_study(*, slug: str = "survey", items_per_page: int = 4, completion_url: str = "",
                      intervention: bool = True, weights: tuple[int, int] = (1, 1)):
    """A small demo-like study: consent, a grouping item, a wave of 7 items (Likert with and
    without "don't know", a 0-100 slider, free text, an attention check), two arms with an
    intervention for the treatment arm at the open wave; wave 1 closed, 2 open, 3 scheduled."""
    from types import SimpleNamespace

    now = timezone.now()
    study = StudyFactory(slug=slug, title="How far apart do we feel?", items_per_page=items_per_page,
                         completion_url=completion_url,
                         completion_text={"en": "Thank you! Your answers are saved.",
                                          "de": "Danke! Ihre Antworten sind gespeichert."})
    consent = ConsentVersionFactory(study=study, version=1, text={
        "en": "Your answers are stored under a pseudonym. You may withdraw at any time.",
        "de": "Ihre Antworten werden unter einem Pseudonym gespeichert. Sie können jederzeit zurücktreten."})
    side = GroupingItemFactory(study=study, code="side", order=0,
                               prompt={"en": "Which side are you usually on?", "de": "Auf welcher Seite stehen Sie meist?"},
                               labels={"en": {"1": "left", "2": "right"}, "de": {"1": "links", "2": "rechts"}})
    prompts = [
        ("reasons", "People who disagree with me have good reasons.", "Wer anderer Meinung ist, hat gute Gründe."),
        ("understand", "I can understand how the other side sees things.", "Ich verstehe, wie die andere Seite denkt."),
        ("threat", "The other side is a threat to the country.", "Die andere Seite ist eine Bedrohung für das Land."),
        ("marry", "I would mind if a relative married someone from the other side.",
         "Es würde mich stören, wenn ein Verwandter jemanden von der anderen Seite heiratet."),
    ]
    items = {}
    for order, (code, en, de) in enumerate(prompts, start=1):
        items[code] = ItemFactory(study=study, code=code, prompt={"en": en, "de": de}, labels=AGREE_LABELS,
                                  dont_know=(code == "threat"), order=order)
    items["warmth"] = ItemFactory(
        study=study, code="warmth", kind=models.Item.Kind.SLIDER, scale_min=0, scale_max=100, step=1,
        dont_know=True, order=5, labels={"en": {"0": "very cold", "100": "very warm"},
                                         "de": {"0": "sehr kalt", "100": "sehr warm"}},
        prompt={"en": "How warm or cold do you feel toward people on the other side?",
                "de": "Wie warm oder kalt fühlen Sie sich gegenüber Menschen auf der anderen Seite?"})
    items["story"] = ItemFactory(
        study=study, code="story", kind=models.Item.Kind.TEXT, scale_min=None, scale_max=None, step=None, order=6,
        prompt={"en": "Describe a disagreement you had this week.",
                "de": "Beschreiben Sie eine Meinungsverschiedenheit dieser Woche."})
    items["attention"] = ItemFactory(
        study=study, code="attention", role=models.Item.Role.ATTENTION, expected_answer=3, labels=AGREE_LABELS,
        order=7, prompt={"en": "Please choose 3 here.", "de": "Bitte wählen Sie hier 3."})
    control = ArmFactory(study=study, name="control", is_control=True, allocation_weight=weights[0])
    treated = ArmFactory(study=study, name="contact", allocation_weight=weights[1])
    day = dt.timedelta(days=1)
    waves = {
        1: WaveFactory(study=study, number=1, opens_at=now - 20 * day, closes_at=now - 13 * day,
                       state=models.Wave.State.CLOSED),
        2: WaveFactory(study=study, number=2, opens_at=now - day, closes_at=now + 6 * day),
        3: WaveFactory(study=study, number=3, opens_at=now + 13 * day, closes_at=now + 20 * day,
                       state=models.Wave.State.SCHEDULED),
    }
    for wave in waves.values():
        wave.items.set(items.values())
    if intervention:
        models.Intervention.objects.create(
            wave=waves[2], arm=treated, title={"en": "A short note", "de": "Ein kurzer Hinweis"},
            content={"en": "Most people on the other side value what you value.",
                     "de": "Den meisten Menschen auf der anderen Seite ist wichtig, was Ihnen wichtig ist."})
    return SimpleNamespace(study=study, consent=consent, side=side, items=items, waves=waves,
                           control=control, treated=treated)
