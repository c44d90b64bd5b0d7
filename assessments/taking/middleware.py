"""Refuse a candidate's oversized or overfull post in the candidate pages' own words.

A page posts an answer of at most ``MAX_ANSWER_BYTES`` and a few fields. A larger body, or a
form with more fields than Django parses, would otherwise meet Django's bare 400 page before
any view runs (``assessments.core.request_limits``). This middleware sits before
``CsrfViewMiddleware``, which is the first to read a form post, and answers under ``/t/``
as every candidate view does: JSON for the page's script, the refusal page for a form.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from assessments.core.request_limits import body_refusal, declared_length
from assessments.taking.views import MAX_ANSWER_BYTES, refusal_response

CANDIDATE_PREFIX = "/t/"


class CandidateBodyLimitsMiddleware:
    """Answer an oversized body with 413 and an unreadable form with 400 under ``/t/``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CANDIDATE_PREFIX) or request.method in (
            "GET",
            "HEAD",
            "OPTIONS",
        ):
            return self.get_response(request)
        status = 413 if declared_length(request) > MAX_ANSWER_BYTES else body_refusal(request)
        if status == 413:
            return refusal_response(request, _("The answer is too long."), 413)
        if status == 400:
            return refusal_response(
                request, _("The answer could not be read. Reload the page and answer again."), 400
            )
        return self.get_response(request)
