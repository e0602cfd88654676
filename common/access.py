"""Who may do what: every rule of access to a study lives here, and every entry point asks it
(web views, the REST API, the admin, exports).

A researcher sees a study only if they are a member of it; their role in it decides what else
they may do. A superuser counts as an owner of every study. Each rule is a named capability:

| capability                  | owner | analyst | viewer | covers                                                  |
| --------------------------- | ----- | ------- | ------ | ------------------------------------------------------- |
| `may_see_study`             | yes   | yes     | yes    | the study, its design, indices, effects, dashboards     |
| `may_read_participant_data` | yes   | yes     | -      | participants, answers, exports, codebooks, Prolific ids |
| `may_recompute`             | yes   | yes     | -      | queueing a recompute of the analysis                    |
| `may_exclude`               | yes   | yes     | -      | excluding participants (and lifting exclusions)         |
| `may_edit_series`           | yes   | yes     | -      | importing and deleting text and outcome series          |
| `may_edit_design`           | yes   | -       | -      | study settings, members, consent, items, waves, arms,   |
|                             |       |         |        | interventions, message templates                        |
| `may_see_external_ids`      | yes   | -       | -      | external (Prolific) ids in participant lists, exports   |
| `may_edit_plan`             | yes   | -       | -      | the analysis plan (primary outcomes, contrasts) while   |
|                             |       |         |        | the study is a draft; frozen at launch                  |

Viewers see aggregates only: every participant-level list or CSV (the admin's participant rows,
the at-risk list, the flagged participants, exports) asks `may_read_participant_data`. In the
admin each model admin names the capability to look (`see`) and to change (`edit`).

Someone who is not a member, or not logged in, learns nothing about a study: `get_member_study`
answers 404 (`Http404`) whether or not the study exists. A member whose role is not enough gets
403 (`PermissionDenied`) with a message naming the roles that may. Lists of studies (the API's
study list, admin querysets, drop-downs and filters) come from `studies_for` and
`limit_to_studies`.

This module reaches the models through the app registry and imports neither app, so every layer
may use it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """A member's role in a study (the values are stored in `Membership.role`)."""

    OWNER = "owner", _("owner")
    ANALYST = "analyst", _("analyst")
    VIEWER = "viewer", _("viewer")


MEMBER_ROLES = (Role.OWNER, Role.ANALYST, Role.VIEWER)
DATA_ROLES = (Role.OWNER, Role.ANALYST)  # participant-level data and what is done with it
OWNER_ROLES = (Role.OWNER,)  # the study's design and identifying data


@dataclass(frozen=True)
class Capability:
    """Something a member may do in a study and the roles that may do it. Call it with a user and
    a study for a yes or no: `may_recompute(user, study)`."""

    name: str
    action: str  # completes "does not allow you to ..."
    roles: tuple[str, ...]

    def allows(self, role: str | None) -> bool:
        return role in self.roles

    def __call__(self, user, study) -> bool:
        return self.allows(member_role(user, study))

    def require(self, user, study) -> None:
        """Raise PermissionDenied (403) with a clear message unless the user may."""
        role = member_role(user, study)
        if not self.allows(role):
            raise PermissionDenied(self.refusal(role))

    def refusal(self, role: str | None) -> str:
        return (f"Your role in this study ({role}) does not allow you to {self.action}; "
                f"that needs: {', '.join(self.roles)}.")


may_see_study = Capability("may_see_study", "see this study", MEMBER_ROLES)
may_read_participant_data = Capability("may_read_participant_data", "read participant-level data", DATA_ROLES)
may_recompute = Capability("may_recompute", "recompute the analysis", DATA_ROLES)
may_exclude = Capability("may_exclude", "exclude participants", DATA_ROLES)
may_edit_series = Capability("may_edit_series", "import or delete series", DATA_ROLES)
may_edit_design = Capability("may_edit_design", "change the study's design", OWNER_ROLES)
may_see_external_ids = Capability("may_see_external_ids", "see external ids", OWNER_ROLES)
may_edit_plan = Capability("may_edit_plan", "change the analysis plan", OWNER_ROLES)

CAPABILITIES = (may_see_study, may_read_participant_data, may_recompute, may_exclude, may_edit_series,
                may_edit_design, may_see_external_ids, may_edit_plan)

Roles = Capability | Iterable[str]


def _capability(roles: Roles) -> Capability:
    if isinstance(roles, Capability):
        return roles
    roles = tuple(roles)
    return Capability("", "do this", roles)


def _is_user(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def member_role(user, study) -> str | None:
    """The user's role in `study` (owner for a superuser), None for a non-member or anonymous."""
    if not _is_user(user):
        return None
    if user.is_superuser:
        return Role.OWNER
    known = getattr(study, "_access_role", None)  # set by get_member_study for this user
    if known is not None and known[0] == user.pk:
        return known[1]
    membership = apps.get_model("surveys", "Membership")
    return membership.objects.filter(study=study, user=user).values_list("role", flat=True).first()


def get_member_study(user, slug: str, *, roles: Roles = may_see_study):
    """The study `slug` if `user` is a member: 404 otherwise (never a hint that it exists), 403
    when the member's role is not among `roles` (a capability or roles)."""
    capability = _capability(roles)
    study, role = None, None
    if _is_user(user) and user.is_superuser:
        study, role = apps.get_model("surveys", "Study").objects.filter(slug=slug).first(), Role.OWNER
    elif _is_user(user):
        membership = (apps.get_model("surveys", "Membership").objects.select_related("study")
                      .filter(study__slug=slug, user=user).first())
        if membership is not None:
            study, role = membership.study, membership.role
    if study is None:
        raise Http404("No study with this slug among your studies.")
    study._access_role = (user.pk, role)
    capability.require(user, study)
    return study


def limit_to_studies(queryset, user, *, path: str = "study", roles: Roles = may_see_study):
    """`queryset` limited to rows of the studies in which `user` has one of `roles`; `path` leads
    from a row to its study ("" when the rows are studies). Nothing for anonymous users."""
    if not _is_user(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    prefix = f"{path}__" if path else ""
    # One join with both conditions: a user has at most one membership per study, so no duplicates.
    return queryset.filter(**{f"{prefix}memberships__user": user,
                              f"{prefix}memberships__role__in": _capability(roles).roles})


def studies_for(user, *, roles: Roles = may_see_study):
    """The studies in which `user` has one of `roles` (every study for a superuser)."""
    return limit_to_studies(apps.get_model("surveys", "Study").objects.all(), user, path="", roles=roles)


def roles_by_study(user) -> dict[int, str]:
    """The user's role in each of their studies, by study id (owner of every study for a superuser)."""
    if not _is_user(user):
        return {}
    if user.is_superuser:
        return dict.fromkeys(apps.get_model("surveys", "Study").objects.values_list("pk", flat=True), Role.OWNER)
    membership = apps.get_model("surveys", "Membership")
    return dict(membership.objects.filter(user=user).values_list("study_id", "role"))
