"""The study builder: researcher pages to design a study without the admin.

`/studies/new/` starts a study (empty, from the example, from the item bank, from an uploaded
spec, or as a copy); `/studies/<slug>/design/` edits it. Every form turns into a new
specification (surveys/builder/edits.py) applied by `surveys.spec.service.apply_spec`: one
validation, the same messages, the same refusals and the same change log as the command line and
the API. Who may do what is asked of `common.access`: owners edit, analysts and viewers read.
"""

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods

from common import access
from surveys import groups, kinds
from surveys.builder import edits, rules
from surveys.forms import AnswerPageForm
from surveys.models import DesignChange, Item, Study, translate
from surveys.spec import io
from surveys.spec.bank import bank_entries
from surveys.spec.sections import answer_count
from surveys.spec.service import SpecError, apply_spec, design_change_log, export_spec, is_launched

EXAMPLE_FILE = settings.BASE_DIR / "examples" / "demo-study.yaml"

ACTIONS = {
    "study": lambda spec, post: edits.save_study(spec, post),
    "item-save": lambda spec, post: edits.save_item(spec, post),
    "item-move": lambda spec, post: edits.move_item(spec, post.get("code", ""), post.get("direction", "")),
    "item-duplicate": lambda spec, post: edits.duplicate_item(spec, post.get("code", "")),
    "item-delete": lambda spec, post: edits.delete_item(spec, post.get("code", "")),
    "bank-add": lambda spec, post: edits.add_bank_items(spec, post.getlist("bank")),
    "wave-save": lambda spec, post: edits.save_wave(spec, post),
    "wave-delete": lambda spec, post: edits.delete_wave(spec, post.get("number", "")),
    "arms": lambda spec, post: edits.save_arms(spec, post),
    "consent": lambda spec, post: edits.save_consent(spec, post),
    "completion": lambda spec, post: edits.save_completion(spec, post),
    "enrolment": lambda spec, post: rules.save_enrolment(spec, post),
    "pages": lambda spec, post: rules.save_pages(spec, post),
    "item-logic": lambda spec, post: rules.save_item_condition(spec, post),
    "page-logic": lambda spec, post: rules.save_page_condition(spec, post),
}


def _languages():
    return [{"code": code, "name": name} for code, name in settings.LANGUAGES]


# --- /studies/new/ --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def study_new(request):
    """Start a study: empty, from the example, from the item bank, by uploading a spec, or as a copy."""
    copyable = access.studies_for(request.user).order_by("slug")
    context = {"languages": _languages(), "bank": bank_entries(), "copyable": copyable, "problems": [],
               "posted": request.POST}
    if request.method == "GET":
        return render(request, "surveys/builder/new.html", context)
    slug = request.POST.get("slug", "").strip().lower()
    start = request.POST.get("start", "empty")
    problems = []
    if not slug:
        problems.append("study.slug: give the new study a slug (lower-case letters, digits and hyphens)")
    elif Study.objects.filter(slug=slug).exists():
        problems.append(f'study.slug: a study "{slug}" exists already; choose another slug')
    spec = None
    if not problems:
        try:
            spec = _starting_spec(request, start, slug)
        except (io.SpecSyntaxError, edits.FormProblem, ValueError) as error:
            problems.append(str(error))
    if spec is not None and not problems:
        try:
            result = apply_spec(data=spec, slug=slug, owner=request.user, user=request.user,
                                source=DesignChange.Source.BUILDER)
        except SpecError as error:
            problems += error.problems
        else:
            return HttpResponseRedirect(reverse("builder:design", args=[result.study.slug]), status=303)
    context["problems"] = problems
    return render(request, "surveys/builder/new.html", context, status=400)


def _starting_spec(request, start: str, slug: str) -> dict:
    post = request.POST
    languages = [lang for lang in post.getlist("languages") if lang in dict(settings.LANGUAGES)] or ["en"]
    title = post.get("title", "").strip() or slug
    if start == "example":
        spec = io.load_text(EXAMPLE_FILE.read_text(encoding="utf-8"), name="example")
        spec["study"]["title"] = {**spec["study"]["title"], "en": title} if post.get("title") else spec["study"]["title"]
        return spec
    if start == "upload":
        upload = request.FILES.get("spec")
        if upload is None:
            raise ValueError("spec: choose a YAML or JSON file to upload")
        if upload.size > 2_000_000:
            raise ValueError("spec: the file is larger than 2 MB")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("spec: the file is not UTF-8 text") from None
        spec = io.load_text(text, name=upload.name)
        if not isinstance(spec, dict):
            raise ValueError("spec: the file holds no study specification")
        return spec
    if start == "copy":
        source = access.get_member_study(request.user, post.get("source", ""))
        return export_spec(source)
    spec = edits.empty_spec(slug=slug, title=title, languages=languages)
    if start == "bank":
        spec["waves"] = [{"number": 1, "opens_after_days": 0, "closes_after_days": 7, "items": []}]
        spec = edits.add_bank_items(spec, post.getlist("bank"))
    return spec


# --- /studies/<slug>/design/ ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def study_design(request, slug: str):
    """The design of one study: owners edit it, analysts and viewers read it."""
    study = access.get_member_study(request.user, slug)
    may_edit = access.may_edit_design(request.user, study)
    problems, section = [], request.POST.get("action", "")
    if request.method == "POST":
        access.may_edit_design.require(request.user, study)  # 403 for analysts and viewers
        if section == "launch":
            if study.status == Study.Status.DRAFT:
                study.status = Study.Status.ACTIVE
                study.save(update_fields=["status"])
            return _back(study, "settings")
        if section == "copy":
            return _copy(request, study)
        action = ACTIONS.get(section)
        if action is None:
            problems = [f'unknown action "{section}"']
        else:
            try:
                spec = action(export_spec(study), request.POST)
                apply_spec(data=spec, slug=study.slug, user=request.user, source=DesignChange.Source.BUILDER)
            except edits.FormProblem as error:
                problems = [str(error)]
            except (ValueError, KeyError, TypeError) as error:  # a hand-made or truncated form
                problems = [f"the form was incomplete or malformed ({error.__class__.__name__}); reload the page"]
            except SpecError as error:
                problems = error.problems
            else:
                return _back(study, request.POST.get("anchor", ""))
        study.refresh_from_db()
    context = design_context(request, study, may_edit=may_edit)
    context.update({"problems": problems, "problem_section": section, "posted": request.POST if problems else {}})
    return render(request, "surveys/builder/design.html", context, status=400 if problems else 200)


def _back(study, anchor: str):
    url = reverse("builder:design", args=[study.slug]) + (f"#{anchor}" if anchor else "")
    return HttpResponseRedirect(url, status=303)


def _copy(request, study):
    slug = request.POST.get("new_slug", "").strip().lower()
    problems = []
    if not slug:
        problems.append("study.slug: give the copy a slug")
    elif Study.objects.filter(slug=slug).exists():
        problems.append(f'study.slug: a study "{slug}" exists already; choose another slug')
    else:
        try:
            copy = apply_spec(data=export_spec(study), slug=slug, owner=request.user, user=request.user,
                              source=DesignChange.Source.BUILDER).study
        except SpecError as error:
            problems = error.problems
        else:
            return HttpResponseRedirect(reverse("builder:design", args=[copy.slug]), status=303)
    context = design_context(request, study, may_edit=True)
    context.update({"problems": problems, "problem_section": "copy", "posted": request.POST})
    return render(request, "surveys/builder/design.html", context, status=400)


def _timeline(waves: list[dict]) -> list[dict]:
    """Each wave's place on a bar from the first opening to the last closing (percent)."""
    from surveys.spec.sections import parse_datetime

    spans = [(parse_datetime(w.get("opens_at", "")), parse_datetime(w.get("closes_at", ""))) for w in waves]
    known = [s for s in spans if s[0] and s[1]]
    if not known:
        return [{"wave": w, "left": 0, "width": 100} for w in waves]
    start, end = min(s[0] for s in known), max(s[1] for s in known)
    total = max((end - start).total_seconds(), 1)
    return [{"wave": w, "left": round((s[0] - start).total_seconds() / total * 100, 1) if s[0] else 0,
             "width": max(round((s[1] - s[0]).total_seconds() / total * 100, 1), 2) if s[0] and s[1] else 100}
            for w, s in zip(waves, spans, strict=True)]


def _local(value: str) -> str:
    """'2027-01-04T09:00:00Z' -> '2027-01-04T09:00' for a datetime-local box (UTC)."""
    return value[:16] if value else ""


def design_context(request, study: Study, *, may_edit: bool) -> dict:
    spec = export_spec(study)
    languages = spec["study"]["languages"]
    stored = {item.code: item for item in study.items.all()}
    items = []
    for row in spec["items"]:
        group = groups.BY_VALUE.get(row["kind"])  # a matrix or multiple choice: its items together
        members = [stored[m["code"]] for m in row[group.members_key]] if group else [stored[row["code"]]]
        form = AnswerPageForm(items=members, language=languages[0])
        items.append({"spec": row, "kind": group or kinds.kind_of(members[0]), "rows": form.rows(),
                      "is_group": group is not None, "reverse_codes": " ".join(
                          m["code"] for m in row.get("statements", []) if m.get("reverse_coded")),
                      "members_text": {lang: edits.format_members(row, lang) for lang in languages} if group else {},
                      "labels_text": {lang: edits.format_labels(row.get("labels", {}).get(lang, {}))
                                      for lang in languages},
                      "answered": any(answer_count(m) > 0 for m in members),
                      "waves": [w["number"] for w in spec["waves"]
                                if {row["code"], *(m.code for m in members)} & set(w["items"])]})
    waves = []
    for entry in _timeline(spec["waves"]):
        wave = entry["wave"]
        shown = {x["arm"]: x for x in wave.get("interventions", [])}
        waves.append({**entry, "opens_local": _local(wave.get("opens_at", "")),
                      "closes_local": _local(wave.get("closes_at", "")),
                      "interventions": [{"arm": arm["name"], "title": shown.get(arm["name"], {}).get("title", {}),
                                         "content": shown.get(arm["name"], {}).get("content", {})}
                                        for arm in spec["arms"]]})
    templates = {(t["kind"], t["language"]): t for t in spec["messages"]["templates"]}
    return {
        "study": study, "spec": spec, "may_edit": may_edit, "languages": languages,
        "all_languages": _languages(), "items": items, "waves": waves, "kinds": [k for k in kinds.KINDS if not k.group_only],
        "group_kinds": groups.GROUP_KINDS,
        "roles": Item.Role.choices, "bank": bank_entries(), "changes": design_change_log(study)[::-1],
        "launched": is_launched(study), "role": access.member_role(request.user, study),
        "message_rows": [{"kind": kind, "language": lang, **templates.get((kind, lang), {})}
                         for kind in ("invitation", "reminder", "last_chance") for lang in languages],
        "preview_waves": [w["number"] for w in spec["waves"]],
        "arm_rows": [*spec["arms"], {"name": "", "weight": 1, "control": False}],
        "new_labels": dict.fromkeys(languages, ""),
        **rules.context(spec),
    }


# --- /studies/<slug>/design/preview/ ----------------------------------------------------------------


@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})  # framed by the builder page only
@login_required
@require_http_methods(["GET"])
def design_preview(request, slug: str):
    """A wave's page as participants see it (items unanswered; nothing is stored), in a language."""
    study = access.get_member_study(request.user, slug)
    language = request.GET.get("lang", "")
    language = language if language in study.languages else study.default_language
    wave = study.waves.filter(number=request.GET.get("wave", "") or 0).first() if request.GET.get(
        "wave", "").isdigit() else study.waves.order_by("number").first()
    items = list(wave.items.order_by("order", "id")) if wave is not None else list(study.items.exclude(
        role=Item.Role.GROUPING))
    arm = study.arms.filter(name=request.GET.get("arm", "")).first()
    intervention = wave.interventions.filter(arm=arm).first() if wave is not None and arm is not None else None
    for item in items:
        item.study = study  # the prompt's fallback language, without a query per item
    form = AnswerPageForm(items=items, language=language)
    context = {"study": study, "wave": wave, "form": form, "rows": form.rows(), "preview_language": language,
               "intervention_title": translate(intervention.title, language, study.default_language)
               if intervention else "",
               "intervention_content": translate(intervention.content, language, study.default_language)
               if intervention else ""}
    return render(request, "surveys/builder/preview_page.html", context)
