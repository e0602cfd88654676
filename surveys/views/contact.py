"""Participant e-mail links: unsubscribe (`/u/<token>/`). The token is signed, so the page needs
no login; POST (the button, or a mail client's one-click List-Unsubscribe-Post) unsubscribes."""

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from surveys import messaging
from surveys.models import Participant


@never_cache
@csrf_exempt  # the signed token in the URL is the credential; one-click unsubscribe posts without a form
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST unsubscribes."""
    participant_id = messaging.read_unsubscribe_token(token)
    participant = (Participant.objects.select_related("study").filter(pk=participant_id).first()
                   if participant_id is not None else None)
    if participant is None:
        raise Http404(_("This unsubscribe link is not valid."))
    done = False
    if request.method == "POST":
        messaging.unsubscribe(participant_id=participant.pk)
        done = True
    has_contact = not done and hasattr(participant, "contact")
    context = {"study": participant.study, "token": token, "done": done, "has_contact": has_contact}
    return render(request, "surveys/unsubscribe.html", context)
