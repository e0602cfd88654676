"""The demo study: a simulated panel stored as if participants had answered on the web.

`seed_demo_study` is the service behind `manage.py seed_demo`. The design (items, waves, arms,
texts) is `examples/demo-study.yaml`, laid in by the study specification service; the panel comes from
`analysis.stats.simulate` (two sides drifting apart, an intervention arm from wave 3, noise,
attrition); this module only lays it into the database on a timeline that has waves 1-4 closed,
wave 5 open now (partly answered) and wave 6 still to come, so every page has something to show.
"""

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from analysis.pipeline.effects import compute_study_effects
from analysis.pipeline.enqueue import waves_needing_indices
from analysis.pipeline.indices import compute_wave_indices
from analysis.stats.simulate import (
    DEMO_GROUPING_ITEM,
    PanelSpec,
    simulate_panel,
)
from surveys import summaries
from surveys.models import (
    Intervention,
    Item,
    Membership,
    Participant,
    ParticipantToken,
    Response,
    Study,
    Submission,
    Wave,
    hash_secret,
)
from surveys.spec.io import load_text
from surveys.spec.service import apply_spec

DEMO_SLUG = "demo"
#: The demo's design (items, waves, arms, texts); the simulation only supplies the answers.
DEMO_SPEC_FILE = Path(settings.BASE_DIR) / "examples" / "demo-study.yaml"
WAVE_DAYS = 7
OPEN_WAVE = 5  # the wave that is open when the demo is built
OPEN_WAVE_SHARE = 0.6  # share of wave-5 respondents who have already answered

ATTENTION_EXPECTED = 3  # the attention item's expected answer in examples/demo-study.yaml
ATTENTION_PASS_RATE = 0.95


@dataclass(frozen=True)
class DemoResult:
    study: Study
    created: bool
    participant_link: str
    username: str
    password: str


def demo_secret() -> str:
    """A stable secret for the demo participant's link, derived from the secret key, so that
    rerunning seed_demo prints the same link without storing the secret."""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"disagreement demo participant", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def seed_demo_study(*, participants: int = 600, seed: int = 2026, reset: bool = False) -> DemoResult:
    """Build study `demo` from the simulation unless it exists. Atomic; a rerun changes nothing."""
    with transaction.atomic():
        username, password = settings.DEMO_RESEARCHER_USERNAME, settings.DEMO_RESEARCHER_PASSWORD
        user = _ensure_researcher(username, password)
        study = Study.objects.filter(slug=DEMO_SLUG).first()
        if study is not None and reset:
            study.delete()
            study = None
        created = study is None
        if created:
            study = _build_study(participants=participants, seed=seed)
        Membership.objects.get_or_create(study=study, user=user, defaults={"role": Membership.Role.OWNER})
        secret = demo_secret()
        _ensure_demo_participant(study, secret)
    # Indices of every wave with answers that changed since their last run: a rerun writes nothing.
    due = waves_needing_indices(study_id=study.pk)
    for wave in due:
        compute_wave_indices(study_id=study.pk, wave_id=wave.pk)
    if due:
        compute_study_effects(study_id=study.pk)
    return DemoResult(study=study, created=created, participant_link=f"{settings.SITE_URL}/p/{secret}/",
                      username=username, password=password)


def _ensure_researcher(username: str, password: str):
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "email": f"{username}@example.org"}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.is_staff = True
        user.save()
    return user


def _timeline(now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, str]]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first_open = today - dt.timedelta(days=WAVE_DAYS * (OPEN_WAVE - 1) + 2)
    waves = []
    for number in range(1, 7):
        opens = first_open + dt.timedelta(days=WAVE_DAYS * (number - 1))
        closes = opens + dt.timedelta(days=WAVE_DAYS)
        state = Wave.State.CLOSED if closes <= now else (Wave.State.OPEN if opens <= now else Wave.State.SCHEDULED)
        waves.append((opens, closes, state))
    return waves


def _build_study(*, participants: int, seed: int) -> Study:
    spec = PanelSpec(n_participants=participants)
    panel = simulate_panel(spec, seed=seed)
    rng = np.random.default_rng(seed + 1)
    timeline = _timeline(timezone.now())
    design = load_text(DEMO_SPEC_FILE.read_text(encoding="utf-8"), name=str(DEMO_SPEC_FILE))
    study = apply_spec(data=design, anchor=timeline[0][0]).study
    study.status = Study.Status.ACTIVE
    study.save(update_fields=["status"])
    consent = study.current_consent()
    by_code = {item.code: item for item in study.items.all()}
    items: dict[str, Item] = {item.code: by_code[item.code] for item in spec.items}
    attention = by_code["attention"]
    arms = {arm.name: arm for arm in study.arms.all()}
    waves: dict[int, Wave] = {}
    for wave, (_opens, _closes, state) in zip(study.waves.order_by("number"), timeline, strict=True):
        wave.state = state
        wave.save(update_fields=["state"])
        waves[wave.number] = wave
    people = _create_participants(study, panel.participants, spec.groups, arms, consent, waves[1].opens_at, rng)
    _create_answers(panel, people, items, attention, waves, rng)
    return study


def _create_participants(study, frame: pd.DataFrame, groups, arms, consent, first_open, rng) -> dict[str, Participant]:
    alphabet = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
    codes = rng.choice(alphabet, size=(len(frame), 10))
    joined = [first_open - dt.timedelta(hours=float(h)) for h in rng.uniform(1, 48, len(frame))]
    languages = rng.choice(["en", "de"], size=len(frame), p=[0.7, 0.3])
    side_values = {name: value for value, name in enumerate(groups, start=1)}  # as in the grouping item
    side_code = DEMO_GROUPING_ITEM["code"]
    rows = [
        Participant(
            study=study, public_id="P" + "".join(codes[i]), arm=arms[row.arm], language=languages[i],
            groups={side_code: side_values[row.group]}, joined_at=joined[i], consented_at=joined[i],
            consent_version=consent, assigned_at=joined[i],
        )
        for i, row in enumerate(frame.itertuples(index=False))
    ]
    Participant.objects.bulk_create(rows, batch_size=1000)
    stored = {p.public_id: p for p in Participant.objects.filter(study=study)}
    return {sim_id: stored[p.public_id] for sim_id, p in zip(frame["participant"], rows, strict=True)}


def _create_answers(panel, people, items, attention, waves, rng) -> None:
    answers = panel.answers
    texts = panel.texts
    answered = (
        pd.concat([answers[["participant", "wave"]], texts[["participant", "wave"]]])
        .drop_duplicates().sort_values(["wave", "participant"])
    )
    answered = answered[answered["wave"].isin([w for w, wave in waves.items() if wave.state != Wave.State.SCHEDULED])]
    # Only part of the open wave's respondents have answered so far.
    open_rows = answered["wave"] == OPEN_WAVE
    keep = ~open_rows | (rng.random(len(answered)) < OPEN_WAVE_SHARE)
    answered = answered[keep]

    shown = {(i.wave_id, i.arm_id) for i in Intervention.objects.filter(wave__in=waves.values())}
    submissions = []
    for participant, wave_number in answered.itertuples(index=False):
        wave = waves[int(wave_number)]
        started = wave.opens_at + dt.timedelta(hours=float(rng.uniform(0.5, 72)))
        duration = float(rng.lognormal(np.log(180), 0.45))
        order = [*items.keys(), attention.code]
        rng.shuffle(order)
        submissions.append(Submission(
            participant=people[participant], wave=wave, started_at=started,
            completed_at=started + dt.timedelta(seconds=duration), duration_seconds=round(duration, 1),
            item_order=order, page=len(order), saw_intervention=(wave.pk, people[participant].arm_id) in shown,
            user_agent_family=str(rng.choice(["Firefox", "Chrome", "Safari"])),
        ))
    Submission.objects.bulk_create(submissions, batch_size=1000)
    by_key = {(s.participant_id, s.wave_id): s for s in Submission.objects.filter(wave__in=waves.values())}

    def submission_of(participant, wave_number):
        return by_key.get((people[participant].pk, waves[int(wave_number)].pk))

    responses = []
    for row in answers.itertuples(index=False):
        submission = submission_of(row.participant, row.wave)
        if submission is None:
            continue
        missing = bool(getattr(row, "missing", False)) or pd.isna(row.value)
        responses.append(Response(
            submission=submission, item=items[row.item], value=None if missing else float(row.value),
            missing=Response.Missing.DONT_KNOW if missing else "", answered_at=submission.started_at,
            response_time_ms=int(rng.lognormal(np.log(6000), 0.5)),
        ))
    for row in texts.itertuples(index=False):
        submission = submission_of(row.participant, row.wave)
        if submission is not None and row.text:
            responses.append(Response(submission=submission, item=items[row.item], text=row.text,
                                      answered_at=submission.started_at,
                                      response_time_ms=int(rng.lognormal(np.log(25000), 0.5))))
    for submission in by_key.values():
        passed = rng.random() < ATTENTION_PASS_RATE
        value = ATTENTION_EXPECTED if passed else int(rng.choice([1, 2, 4, 5, 6, 7]))
        responses.append(Response(submission=submission, item=attention, value=value,
                                  answered_at=submission.started_at, response_time_ms=int(rng.lognormal(np.log(4000), 0.4))))
    Response.objects.bulk_create(responses, batch_size=2000)
    # Rows loaded in bulk, around the write path: count the panel from them.
    summaries.recount_study(study_id=next(iter(waves.values())).study_id)


def _ensure_demo_participant(study: Study, secret: str) -> Participant:
    """The participant behind the printed link: joined and consented, not yet answered wave 5."""
    token = ParticipantToken.objects.filter(token_hash=hash_secret(secret)).select_related("participant").first()
    if token is not None:
        return token.participant
    arm = study.arms.filter(is_control=False).first() or study.arms.first()
    consent = study.current_consent()
    now = timezone.now()
    participant = Participant.objects.create(
        study=study, arm=arm, language="en", groups={"side": 1}, consent_version=consent,
        consented_at=now, assigned_at=now,
    )
    ParticipantToken.objects.create(participant=participant, token_hash=hash_secret(secret))
    return participant
