"""What a candidate's page reports (a focus loss, a paste), read strictly before it is kept.

The page's script sends ``{"kind", "position", "seconds"}``. Whatever a client sends in their
place (a string, a number no question has, a week of seconds) is a 400 naming the field,
never a server error and never a figure a reviewer would be shown as if it were measured.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from assessments.invitations.models import Invitation
from assessments.taking.models import IntegritySignal, QuestionState
from assessments.taking.session import TakingError, signal_record

#: The longest absence a page may report: a session never lasts longer.
MAX_AWAY_SECONDS = 24 * 60 * 60


def _is_number(value: Any) -> bool:
    # bool is an int to Python, never a number to a client.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _signal_question(invitation: Invitation, position: Any) -> QuestionState | None:
    if position is None:
        return None
    question = None
    if isinstance(position, int) and not isinstance(position, bool) and position >= 1:
        question = QuestionState.objects.filter(invitation=invitation, position=position).first()
    if question is None:
        raise TakingError(
            _("“position” must be the number of a question of this test."), status=400
        )
    return question


def _signal_detail(seconds: Any) -> dict:
    if seconds is None:
        return {}
    if not _is_number(seconds) or not (math.isfinite(seconds) and 0 <= seconds <= MAX_AWAY_SECONDS):
        raise TakingError(
            _("“seconds” must be a number from 0 to %(most)d.") % {"most": MAX_AWAY_SECONDS},
            status=400,
        )
    return {"seconds": round(float(seconds), 1)}


def client_signal_record(
    invitation: Invitation, *, data: Any, now: datetime
) -> IntegritySignal | None:
    """Validate a page's report and record it; raise ``TakingError`` (400) on any bad field."""
    if not isinstance(data, dict):
        raise TakingError(_("The request must be a JSON object."), status=400)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in IntegritySignal.CLIENT_KINDS:
        raise TakingError(_("Unknown signal."), status=400)
    detail = _signal_detail(data.get("seconds"))
    question = _signal_question(invitation, data.get("position"))
    return signal_record(invitation, kind=kind, now=now, question=question, detail=detail)
