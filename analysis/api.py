"""Results API endpoints of the analysis side (DESIGN section 5)."""

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.models import Membership, Study

from .models import AnalysisRun
from .services import recompute_study


def get_member_study(request, slug: str, roles: tuple[str, ...] = ()) -> Study:
    """The study if the user is a member (404 otherwise, never a hint); 403 when `roles` are
    given and the member's role is not among them."""
    study = get_object_or_404(Study.objects.for_user(request.user), slug=slug)
    if roles and not request.user.is_superuser:
        if not Membership.objects.filter(study=study, user=request.user, role__in=roles).exists():
            raise PermissionDenied("Your role in this study does not allow this.")
    return study


class StudyRecomputeApi(APIView):
    """POST: queue a recompute of every wave with answers; 202 with the run ids."""

    permission_classes = [IsAuthenticated]

    def post(self, request, slug: str):
        study = get_member_study(request, slug, roles=(Membership.Role.OWNER, Membership.Role.ANALYST))
        run_ids = [run.pk for run in recompute_study(study_id=study.pk)]
        runs = AnalysisRun.objects.filter(pk__in=run_ids).select_related("wave").order_by("wave__number")
        body = {
            "study": study.slug,
            "run_ids": run_ids,
            "runs": [{"id": run.pk, "kind": run.kind, "wave": run.wave.number if run.wave_id else None,
                      "status": run.status} for run in runs],
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
