"""Pages of accounts: switching organization and accepting a colleague invitation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.forms import JoinForm
from accounts.middleware import SESSION_KEY
from accounts.models import MemberInvitation, User
from accounts.selectors import memberships_of_user
from accounts.services import member_invitation_accept


@login_required
@require_POST
def switch_organization(request):
    """Make another of the user's organizations the active one."""
    slug = request.POST.get("organization", "")
    membership = memberships_of_user(user=request.user).filter(organization__slug=slug).first()
    if membership is None:
        raise Http404("No such organization")
    request.session[SESSION_KEY] = membership.organization_id
    messages.info(request, f"Now working in {membership.organization.name}.")
    target = request.POST.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    return HttpResponseRedirect(target)


def join(request, token: str):
    """Accept an invitation: sign in (or create the account) as the invited address."""
    # A token lookup: the person joining is in no organization's context yet.
    invitation = (
        MemberInvitation.all_tenants.select_related("organization").filter(token=token).first()
    )
    if invitation is None or not invitation.is_open:
        return render(request, "accounts/join_invalid.html", status=404)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    form = None
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership = member_invitation_accept(token=token, user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                request.session[SESSION_KEY] = membership.organization_id
                return HttpResponseRedirect(reverse("admin:index"))
    elif existing is None:
        form = JoinForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                user = User.objects.create_user(
                    email=invitation.email,
                    password=form.cleaned_data["password"],
                    full_name=form.cleaned_data["full_name"],
                )
                membership = member_invitation_accept(token=token, user=user)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session[SESSION_KEY] = membership.organization_id
            return HttpResponseRedirect(reverse("admin:index"))
    return render(
        request,
        "accounts/join.html",
        {"invitation": invitation, "form": form, "has_account": existing is not None},
    )
