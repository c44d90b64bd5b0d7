"""The admin's side-by-side preview of variable questions: several variants of each, with
their variables, rendered code, options (the key marked, each wrong option's misconception)
and executed outputs.

A published set shows the variants its latest version keeps (run when it was published). A
draft's are drawn on request: "Draw variants of the draft" sends one job per variable
challenge to the workers with fresh seeds, and the page, which names its jobs in its address,
refreshes until they are done. Jobs are read through the scoped manager and must carry a
challenge of this set, so another organization's (or another set's) jobs are never shown.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assessments.authoring import admin_views
from assessments.authoring.admin import ChallengeSetAdmin
from assessments.authoring.models import ChallengeSetVersion
from assessments.authoring.selectors import version_challenges
from assessments.authoring.variants import preview_variant, variants_preview_start
from grading.models import GradingJob

MAX_JOBS_IN_ADDRESS = 50


def _published(challenge_set) -> tuple[ChallengeSetVersion | None, list[dict]]:
    version = challenge_set.versions.order_by("-number").first()
    if version is None:
        return None, []
    return version, [
        {
            "position": c.position,
            "title": c.title,
            "format": c.get_answer_format_display(),
            "variants": [preview_variant(v) for v in (c.key or {}).get("preview", [])],
        }
        for c in version_challenges(version)
        if c.is_variable
    ]


def _job_ids(raw: str) -> list[str]:
    ids = []
    for part in raw.split(",")[:MAX_JOBS_IN_ADDRESS]:
        try:
            ids.append(str(uuid.UUID(part.strip())))
        except ValueError:
            continue  # a mangled address shows fewer draws, never an error
    return ids


def _drawn(challenge_set, raw: str) -> tuple[list[dict], bool]:
    """The draft's drawn variants named in the address; whether any job is still running."""
    ids = _job_ids(raw)
    if not ids:
        return [], False
    challenges = {str(c.public_id): c for c in challenge_set.challenges.all()}
    jobs = GradingJob.objects.filter(public_id__in=ids, purpose=GradingJob.Purpose.VARIANT)
    drawn, running = [], False
    for job in jobs:
        challenge = challenges.get(job.payload.get("preview_of", ""))
        if challenge is None:
            continue  # not a draw of this set
        busy = job.status in (GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)
        running = running or busy
        result = job.result or {}
        drawn.append(
            {
                "position": challenge.position,
                "title": challenge.title,
                "format": challenge.get_answer_format_display(),
                "running": busy,
                "failed": job.status == GradingJob.Status.FAILED,
                "variants": [preview_variant(v) for v in result.get("variants", [])],
                "problems": result.get("problems", []),
            }
        )
    drawn.sort(key=lambda entry: entry["position"])
    return drawn, running


def variants_view(model_admin):
    def view(request, object_id):
        challenge_set = admin_views._get_set(model_admin, request, object_id)
        version, published = _published(challenge_set)
        drawn, running = _drawn(challenge_set, request.GET.get("draws", ""))
        context = admin_views._admin_context(
            model_admin,
            request,
            title=_("Variants of %(title)s") % {"title": challenge_set.title},
            original=challenge_set,
            version=version,
            published=published,
            drawn=drawn,
            running=running,
            has_variable_draft=any(c.is_variable for c in challenge_set.challenges.all()),
            can_draw=model_admin.has_change_permission(request),
        )
        return render(request, "admin/assessments/challengeset/variants.html", context)

    return view


def variants_draw_view(model_admin):
    @require_POST
    def view(request, object_id):
        admin_views._require_edit(model_admin, request)
        challenge_set = admin_views._get_set(model_admin, request, object_id)
        jobs = variants_preview_start(challenge_set=challenge_set)
        url = reverse("admin:assessments_challengeset_variants", args=[challenge_set.pk])
        if jobs:
            url += "?draws=" + ",".join(str(job.public_id) for job in jobs)
        return HttpResponseRedirect(url)

    return view


ChallengeSetAdmin.object_pages += [
    ("<int:object_id>/variants/", variants_view, "assessments_challengeset_variants"),
    (
        "<int:object_id>/variants/draw/",
        variants_draw_view,
        "assessments_challengeset_variants_draw",
    ),
]
