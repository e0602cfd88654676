"""Personal API tokens: a researcher creates (the secret is shown once) and revokes them."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from surveys.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="What is the token for?",
                           help_text="For example: R on my laptop. Only you see this name.")


@login_required
def token_list(request):
    """GET: your tokens and a form; POST: create a token and show its secret once."""
    secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            _token, secret = ApiToken.issue(request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(request, "surveys/tokens/list.html", {"form": form, "tokens": tokens, "secret": secret})
    if secret:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("surveys:api_tokens")
