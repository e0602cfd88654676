"""Participant web survey (URLs in docs/contracts.md) and the researcher preview. Views parse the
request, call one service or selector, and render; the rules live in services.py."""

from __future__ import annotations

import secrets
import time
from functools import wraps
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from common import access, csvsafe
from surveys import groups, selectors, services
from surveys.forms import (
    EXTERNAL_ID_RE,
    AnswerPageForm,
    ConsentForm,
    ContinueForm,
    EmailLinkForm,
    PreviewForm,
    ProlificParamsForm,
    WithdrawForm,
    quick_answers,
)
from surveys.models import Participant, ParticipantContact, Study, hash_secret, translate
from surveys.models.base import PROLIFIC_COMPLETION_URL

#: Largest request body a participant page accepts. A full page of free-text answers stays far
#: below it; anything larger is refused with 413 before the body is parsed.
MAX_BODY_BYTES = 256 * 1024
PROLIFIC_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
#: Shown after "e-mail me this link" sent the link.
EMAILED_NOTICE = _lazy("We sent your personal link by e-mail. If it does not arrive, check your spam folder or "
                       "copy the link below.")
#: Shown after a page that had been answered already (a second tab, the back button) was sent again.
STALE_NOTICE = _lazy("You sent a page you had already answered, perhaps from another tab or window. Its "
                     "answers were saved the first time and were not changed. Here is where you are now.")


def limit_body(view):
    """Refuse oversized bodies with a clear 413 before CSRF or form parsing reads them."""
    protected = csrf_protect(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return _problem(request, status=413, title=_("Too much data"),
                            message=_("The form sent more data than any page of this survey needs. "
                                      "Please shorten your answers and try again."))
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def _use_study_language(request, study: Study) -> str:
    """The browser's (or chosen) language when the study offers it, else the study's default."""
    language = translation.get_language() or study.default_language
    if language not in study.languages and language.split("-")[0] not in study.languages:
        language = study.default_language
        translation.activate(language)
        request.LANGUAGE_CODE = language
    return language.split("-")[0]


def _problem(request, *, status: int, title: str, message: str, study: Study | None = None, secret: str = ""):
    return render(request, "surveys/problem.html",
                  {"title": title, "message": message, "study": study, "secret": secret}, status=status)


def _participant_context(request, participant: Participant, secret: str, language: str, **extra) -> dict:
    return {"study": participant.study, "participant": participant, "secret": secret, "language": language,
            "languages": _language_choices(participant.study), **extra}


def _language_choices(study: Study) -> list[tuple[str, str]]:
    names = dict(translation.trans_real.get_languages())
    return [(code, names.get(code, code)) for code in study.languages]


def _token_or_404(secret: str):
    token = selectors.get_token(secret)
    if token is None:
        raise Http404(_("This link is not valid. Please use the personal link you were given."))
    return token


# --- /s/<slug>/ ---------------------------------------------------------------------------------------


@never_cache
@limit_body
@require_http_methods(["GET", "POST"])
def landing(request, slug: str):
    """Study landing page with the current consent text; joining issues the personal link."""
    study = selectors.get_landing_study(slug)
    if study is None:
        raise Http404(_("No such study."))
    language = _use_study_language(request, study)
    source = request.POST if request.method == "POST" else request.GET
    params = ProlificParamsForm(source)
    if not params.is_valid():
        return _problem(request, status=400, study=study, title=_("This link is not complete"),
                        message=" ".join(e for errors in params.errors.values() for e in errors))
    pid, prolific_study = params.cleaned_data["PROLIFIC_PID"], params.cleaned_data["STUDY_ID"]
    context = {"study": study, "language": language, "languages": _language_choices(study)}
    if study.status != Study.Status.ACTIVE:
        return render(request, "surveys/study_over.html", context, status=410)
    returning = selectors.get_returning_participant(study=study, external_id=pid, external_study_id=prolific_study)
    consent = study.current_consent()
    if consent is None:
        return _problem(request, status=503, study=study, title=_("Not ready yet"),
                        message=_("This study has no consent information yet. Please try again later."))
    form_class = ContinueForm if returning else ConsentForm
    form_options = {} if returning else {"collect_email": study.collect_email}
    if request.method == "GET":
        initial = {name: params.cleaned_data[name] for name in PROLIFIC_PARAMS}
        form = form_class(initial={**initial, "consent_version": consent.pk}, **form_options)
    else:
        form = form_class(request.POST, **form_options)
        if form.is_valid():
            try:
                version = None if returning else study.consent_versions.filter(
                    pk=form.cleaned_data["consent_version"]).first()
                joined = services.join_study(
                    study=study, consent_version=version, language=language,
                    external_id=pid, external_study_id=prolific_study,
                    email=form.cleaned_data.get("email") or "", join_key=_join_key(request))
            except services.SurveyError as error:
                if isinstance(error, services.EnrolmentRefused) and error.code and pid:
                    return HttpResponseRedirect(PROLIFIC_COMPLETION_URL + quote(error.code), status=303)
                if error.status == 400:
                    form.add_error(None, error.message)
                else:
                    return _problem(request, status=error.status, study=study, title=_("Sorry"), message=error.message)
            else:
                url = reverse("surveys:participant", args=[joined.secret]) + _prolific_query(form.cleaned_data)
                return HttpResponseRedirect(url, status=303)
    context.update({"form": form, "consent_text": _consent_text(consent, language), "returning": returning,
                    "consent": consent})
    response = render(request, "surveys/landing.html", context, status=400 if form.errors else 200)
    return _with_join_cookie(request, response, study)


#: A random value the landing page gives the browser before it joins; the join stores its hash, so
#: the same browser retrying a join whose response was lost gets that participant back.
JOIN_COOKIE = "join"


def _join_key(request) -> str:
    value = request.COOKIES.get(JOIN_COOKIE, "")
    return hash_secret(value) if 32 <= len(value) <= 64 else ""


def _with_join_cookie(request, response, study: Study):
    if not _join_key(request):
        response.set_cookie(JOIN_COOKIE, secrets.token_urlsafe(32), max_age=7 * 24 * 3600,
                            path=reverse("surveys:landing", args=[study.slug]), httponly=True, samesite="Lax",
                            secure=request.is_secure())
    return response


def _consent_text(consent, language: str) -> str:
    return translate(consent.text, language, consent.study.default_language)


# --- /p/<token>/ -------------------------------------------------------------------------------------


@never_cache
@limit_body
@require_http_methods(["GET", "POST"])
def participant(request, secret: str):
    """The participant's current page: baseline, intervention, items, or when the next wave opens."""
    token = _token_or_404(secret)
    person = token.participant
    services.mark_link_opened(person)
    language = _use_study_language(request, person.study)
    if request.method == "POST":
        return _participant_post(request, person, secret, language)
    state = selectors.get_participant_state(person)
    notice = STALE_NOTICE if request.GET.get("stale") else EMAILED_NOTICE if request.GET.get("emailed") else ""
    return _render_state(request, person, secret, language, state, notice=str(notice))


def _render_state(request, person: Participant, secret: str, language: str, state, *, form=None, status=200,
                  notice: str = "", email_form=None):
    context = _participant_context(request, person, secret, language, state=state, notice=notice,
                                   email_form=email_form)
    if state.kind == "withdrawn":
        return render(request, "surveys/withdrawn.html", context, status=status)
    if state.kind == "screened_out":
        study = person.study
        context.update({"title": _("This study is full for your group"), "message": _(
            "Thank you for your answers. The study already has all the participants it needs from your group, "
            "so there are no questions for you. Nothing more is stored about you.")})
        if study.quota_full_code and person.external_id:
            context["prolific_link"] = PROLIFIC_COMPLETION_URL + quote(study.quota_full_code)
        return render(request, "surveys/problem.html", context, status=status)
    if state.kind == "baseline":
        items = selectors.list_missing_baseline_items(person)
        context["form"] = form or AnswerPageForm(items=items, language=language)
        if form is None and not person.is_preview:
            context["personal_link"] = _personal_link(request, secret)
            context["email_form"] = email_form or _email_link_form(person)
        # Prolific's ids reach the first wave through the baseline page.
        context["prolific"] = _prolific_ids(request.GET if form is None else request.POST)
        return render(request, "surveys/baseline.html", context, status=status)
    if state.kind in ("waiting", "over"):
        context["completion_text"] = selectors.completion_text(person.study, language) if state.completed else ""
        if state.completed is not None and state.completed.wave.completion_code:
            context["completion_code"] = state.completed.wave.completion_code
            context["completion_link"] = state.completed.wave.redirect_url()
        return render(request, "surveys/waiting.html", context, status=status)
    wave = state.wave
    submission = state.submission
    prolific = _prolific_ids(request.GET) if form is None else {}
    if submission is None:
        try:
            submission = services.start_wave(participant=person, wave=wave,
                                             user_agent=request.headers.get("User-Agent", ""),
                                             prolific=prolific, known_new=True)
        except services.SurveyError as error:
            return _problem(request, status=error.status, study=person.study, title=_("Sorry"),
                            message=error.message, secret=secret)
    elif prolific:  # a returning participant's link, or Prolific's re-entry, brings this wave's ids
        services.start_wave(participant=person, wave=wave, prolific=prolific)
    context.update({"wave": wave, "submission": submission})
    intervention = None
    if not submission.saw_intervention and submission.page == 0:
        intervention = selectors.get_intervention(wave=wave, arm_id=person.arm_id)
    if intervention is not None:
        context.update({
            "intervention_title": translate(intervention.title, language, person.study.default_language),
            "intervention_content": translate(intervention.content, language, person.study.default_language),
        })
        return render(request, "surveys/intervention.html", context, status=status)
    per_page = person.study.items_per_page
    design = selectors.get_wave_design(wave, person.study)
    answers = None
    if selectors.has_logic(person.study, design.items.values()):  # display logic reads the answers so far
        answers = selectors.prior_answers(person, wave)
        if form is None and selectors.page_hidden(person, wave, submission, submission.page, design.items, answers):
            submission = services.skip_hidden_pages(participant=person, wave=wave)
            return _after_answers(person, secret, submission)
    codes = [code for code in selectors.page_codes(submission, submission.page, per_page, design.items)
             if code in design.items]
    hidden = selectors.hidden_codes(person, wave, [design.items[code] for code in codes], answers)
    codes = [code for code in codes if code not in hidden]
    if form is None:  # unanswered questions: their HTML is the same for everyone
        context["items_html"] = mark_safe("".join(_item_html(design, tuple(unit), language)
                                                  for unit in groups.units(codes, design.items)))
    progress = selectors.progress(person, wave, submission, design.items, answers)
    pages = progress.pages
    # No baseline: the first page of the first wave is the participant's first page.
    if (form is None and submission.page == 0 and not person.groups and not person.is_preview
            and _submissions_count(person, state, submission) == 1):
        context["personal_link"] = _personal_link(request, secret)
        context["email_form"] = email_form or _email_link_form(person)
    context["minutes_left"] = selectors.minutes_left(progress.items_left, selectors.seconds_per_item(person.study_id))
    context["percent_done"] = round(100 * (progress.page_number - 1) / pages) if pages else 0
    context.update({"form": form, "page": submission.page, "page_number": progress.page_number, "pages": pages,
                    "shown_ms": int(time.time() * 1000), "last_page": progress.page_number >= pages})
    return render(request, "surveys/wave.html", context, status=status)


def _submissions_count(person: Participant, state, submission) -> int:
    """How many submissions the participant has now, without a query when the state counted them."""
    if state.started is None:
        return person.submissions.count()
    return state.started + (state.submission is None and submission is not None)


def _prolific_ids(data) -> dict[str, str]:
    """The well-formed Prolific ids among `data` (a query or a form); malformed ones are dropped."""
    values = {name: data.get(name, "") for name in PROLIFIC_PARAMS}
    return {name: value for name, value in values.items()
            if isinstance(value, str) and value and len(value) <= 128 and EXTERNAL_ID_RE.fullmatch(value)}


def _prolific_query(data) -> str:
    """`?PROLIFIC_PID=...&STUDY_ID=...&SESSION_ID=...` for the ids present (or "")."""
    ids = _prolific_ids(data)
    return "?" + urlencode(ids) if ids else ""


def _personal_link(request, secret: str) -> str:
    """The participant's link as text to keep (shown once, on the first page after joining)."""
    return request.build_absolute_uri(reverse("surveys:participant", args=[secret]))


_ITEM_HTML: dict = {}


def _item_html(design: selectors.WaveDesign, codes: tuple[str, ...], language: str) -> str:
    """An unanswered question's HTML (one item, or the shown items of a group), rendered once per
    process for each version of the wave's items (`design.key` holds their rows: an edited item
    is a new key) and language."""
    key = (design.key, codes, language)
    html = _ITEM_HTML.get(key)
    if html is None:
        (row,) = AnswerPageForm(items=[design.items[code] for code in codes], language=language).rows()
        html = render_to_string("surveys/_item.html", {"row": row})
        if len(_ITEM_HTML) >= 4096:
            _ITEM_HTML.clear()
        _ITEM_HTML[key] = html
    return html


def _participant_post(request, person: Participant, secret: str, language: str):
    step = request.POST.get("step", "")
    if person.withdrawn_at is not None:
        return _problem(request, status=403, study=person.study, title=_("You have withdrawn"),
                        message=_("You have withdrawn from this study, so no more answers are stored. "
                                  "Thank you for your time."), secret=secret)
    if step == "baseline":
        return _post_baseline(request, person, secret, language)
    if step == "email_link":
        return _post_email_link(request, person, secret, language)
    wave, submission = selectors.get_wave_and_submission(person, _int(request.POST.get("wave")))
    if wave is None or step not in ("intervention", "answers"):
        return _problem(request, status=400, study=person.study, title=_("Something went wrong"),
                        message=_("The form was incomplete. Please go back to your personal link and try again."),
                        secret=secret)
    if not selectors.wave_accepts_answers(participant=person, wave=wave):
        if submission is not None and submission.completed_at is not None:
            return redirect_home(secret)
        state = selectors.get_participant_state(person)
        notice = _("Wave %(number)s closed on %(date)s; answers to it can no longer be stored.") % {
            "number": wave.number, "date": _format_date(wave.closes_at)}
        return _render_state(request, person, secret, language, state, status=410, notice=notice)
    if step == "intervention":
        services.acknowledge_intervention(participant=person, wave=wave)
        return redirect_home(secret)
    return _post_answers(request, person, secret, language, wave, submission)


def _email_link_form(person: Participant, data=None) -> EmailLinkForm:
    """The "e-mail me this link" form; it offers to keep the address for invitations only when the
    study collects addresses and the participant has none on file."""
    offer = person.study.collect_email and not ParticipantContact.objects.filter(participant=person).exists()
    return EmailLinkForm(data, offer_invitations=offer)


def _post_email_link(request, person: Participant, secret: str, language: str):
    form = _email_link_form(person, request.POST)
    status = 400
    if form.is_valid():
        try:
            services.email_personal_link(
                participant=person, email=form.cleaned_data["link_email"], link=_personal_link(request, secret),
                keep_for_invitations=form.cleaned_data.get("link_email_consent", False), language=language)
        except services.SurveyError as error:
            form.add_error("link_email", error.message)
            status = error.status
        else:
            return HttpResponseRedirect(reverse("surveys:participant", args=[secret]) + "?emailed=1", status=303)
    state = selectors.get_participant_state(person)
    return _render_state(request, person, secret, language, state, status=status, email_form=form)


def _post_baseline(request, person: Participant, secret: str, language: str):
    items = selectors.list_missing_baseline_items(person)
    if not items:
        return redirect_home(secret, stale=True)
    form = AnswerPageForm(request.POST, items=items, language=language)
    if form.is_valid():
        answers = {code: (None if a.missing else int(a.value)) for code, a in form.answers().items()}
        try:
            services.record_baseline(participant=person, answers=answers)
        except services.InvalidAnswers as error:
            form.add_service_errors(error.errors)
        else:
            request.answers_kept = True  # committed: the 500 page (common/errors.py) says so
            query = _prolific_query(request.POST)
            if query:
                return HttpResponseRedirect(reverse("surveys:participant", args=[secret]) + query, status=303)
            return redirect_home(secret)
    state = selectors.ParticipantState(kind="baseline")
    return _render_state(request, person, secret, language, state, form=form, status=400)


def _post_answers(request, person: Participant, secret: str, language: str, wave, submission):
    page = _int(request.POST.get("page"))
    if page is None or page < 0:
        return _problem(request, status=400, study=person.study, title=_("Something went wrong"),
                        message=_("The form was incomplete. Please go back to your personal link and try again."),
                        secret=secret)
    if submission is not None and (submission.completed_at is not None or page < submission.page):
        request.answers_kept = True
        return _after_answers(person, secret, submission, stale=True)  # a second tab, a double click, a retry
    if submission is None:
        submission = services.start_wave(participant=person, wave=wave,
                                         user_agent=request.headers.get("User-Agent", ""))
    if page != submission.page:
        return _problem(request, status=400, study=person.study, title=_("This page is out of date"),
                        message=_("Please continue on the current page of your personal link."), secret=secret)
    items = selectors.get_wave_design(wave, person.study).items
    codes = [c for c in selectors.page_codes(submission, page, person.study.items_per_page, items) if c in items]
    hidden = selectors.hidden_codes(person, wave, [items[c] for c in codes])
    page_items = [items[c] for c in codes if c not in hidden]
    # The usual page (every answer a plain option) needs no form; anything else gets the form's
    # checks and messages.
    answers = quick_answers(request.POST, page_items)
    form = None
    if answers is None:
        form = AnswerPageForm(request.POST, items=page_items, language=language)
        answers = form.answers() if form.is_valid() else None
    if answers is not None:
        shown = _int(request.POST.get("shown"))
        page_time = int(time.time() * 1000) - shown if shown else None
        try:
            submission = services.submit_answers(participant=person, wave=wave, page=page, answers=answers,
                                                 page_time_ms=page_time)
        except services.InvalidAnswers as error:
            if form is None:
                form = AnswerPageForm(request.POST, items=page_items, language=language)
                form.is_valid()
            form.add_service_errors(error.errors)
        except services.SurveyError as error:
            return _problem(request, status=error.status, study=person.study, title=_("Sorry"),
                            message=error.message, secret=secret)
        else:
            request.answers_kept = True  # committed: the 500 page (common/errors.py) says so
            return _after_answers(person, secret, submission)
    state = selectors.ParticipantState(kind="items", wave=wave, submission=submission)
    return _render_state(request, person, secret, language, state, form=form, status=400)


def _after_answers(person: Participant, secret: str, submission, *, stale: bool = False):
    if submission.completed_at is not None and not person.is_preview:
        wave = submission.wave
        wave.study = person.study
        url = wave.redirect_url()  # the wave's URL or Prolific code, else the study's completion URL
        # Prolific's completion link completes a Prolific submission: only those who came from
        # Prolific have one. Anyone else sees the code on our end page (with the link to use it).
        if url and (person.external_id or wave.completion_url or not wave.completion_code):
            return HttpResponseRedirect(url, status=303)
    return redirect_home(secret, stale=stale)


def redirect_home(secret: str, *, stale: bool = False):
    url = reverse("surveys:participant", args=[secret])
    return HttpResponseRedirect(url + "?stale=1" if stale else url, status=303)


def _int(value) -> int | None:
    """A form's integer, or None when it is not one a database column can hold (64-bit)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -(2 ** 63) <= number < 2 ** 63 else None


def _format_date(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


# --- /p/<token>/withdraw/ and /p/<token>/my-data/ --------------------------------------------------


@never_cache
@limit_body
@require_http_methods(["GET", "POST"])
def withdraw(request, secret: str):
    """Withdraw from the study, optionally deleting every answer."""
    token = _token_or_404(secret)
    person = token.participant
    language = _use_study_language(request, person.study)
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["delete_answers"] and not token.grants_data_access:
            # A link issued by Prolific id alone (which others may know) never deletes answers.
            return _problem(request, status=403, study=person.study, secret=secret,
                            title=_("Please use your first personal link"),
                            message=_("This link was issued when you returned through Prolific. To protect your "
                                      "answers, deleting them needs the personal link you received when you "
                                      "joined. Nothing was changed."))
        services.withdraw(participant=person, delete_answers=form.cleaned_data["delete_answers"])
        return HttpResponseRedirect(reverse("surveys:withdraw", args=[secret]), status=303)
    has_answers = bool(person.groups) or person.submissions.exists()
    context = _participant_context(request, person, secret, language, form=form, has_answers=has_answers,
                                   data_access=token.grants_data_access)
    return render(request, "surveys/withdraw.html", context, status=400 if form.errors else 200)


MY_DATA_COLUMNS = ["participant", "wave", "item", "question", "value", "value_label", "text", "missing",
                   "answered_at"]


@never_cache
@require_GET
def my_data(request, secret: str):
    """The participant's own answers as CSV."""
    token = _token_or_404(secret)
    person = token.participant
    language = _use_study_language(request, person.study)
    if not token.grants_data_access:
        return _problem(request, status=403, study=person.study, secret=secret,
                        title=_("Please use your first personal link"),
                        message=_("This link was issued when you returned through Prolific. To protect your "
                                  "answers, downloading them needs the personal link you received when you joined."))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="my-answers-{person.public_id}.csv"'
    response.write("\ufeff")  # spreadsheet programs read UTF-8 only with a byte order mark
    writer = csvsafe.DictWriter(response, fieldnames=MY_DATA_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in selectors.list_my_answers(person, language=language):
        writer.writerow(row)
    return response


# --- /studies/<slug>/preview/ ----------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def preview(request, slug: str):
    """A study member takes any wave as a test participant (never analysed or exported)."""
    study = access.get_member_study(request.user, slug)  # any member, any status
    form = PreviewForm(request.POST if request.method == "POST" else None, study=study,
                       initial={"arm": study.arms.filter(is_control=True).first(),
                                "language": translation.get_language() if translation.get_language()
                                in study.languages else study.default_language})
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        _person, secret = services.start_preview(study=study, wave=form.cleaned_data["wave"],
                                                 arm=form.cleaned_data["arm"], language=language)
        response = HttpResponseRedirect(reverse("surveys:participant", args=[secret]), status=303)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        return response
    previews = study.participants.filter(is_preview=True).count()
    return render(request, "surveys/preview.html", {"study": study, "form": form, "previews": previews},
                  status=400 if form.errors else 200)
