"""The analytics page of a challenge set in the authoring admin: figures, charts, flags.

Any member of the set's organization may read it (reviewers too); the set is looked up
through the admin's scoped queryset, so another organization's set is a 404 like a missing
one.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from assessments.authoring.admin import ChallengeSetAdmin
from assessments.reports import analytics, analytics_flags, analytics_variants, charts
from assessments.reports.analytics import ChallengeFigures, SetAnalytics
from assessments.templatetags.analytics_format import percent


def _label(figure: ChallengeFigures) -> str:
    return f"{figure.position}. {figure.title}"


def _attempt_label(attempts: int) -> str:
    if attempts == 0:
        return _("unanswered")
    return _("1 attempt") if attempts == 1 else _("%(n)d attempts") % {"n": attempts}


def _overview_charts(result: SetAnalytics) -> dict:
    answered = [c for c in result.challenges if c.n]
    correct = charts.bar_chart(
        chart_id="chart-correct",
        title=_("Share of candidates correct, per challenge"),
        description="; ".join(
            f"{_label(c)}: {percent(c.share_correct)} of {c.n}" for c in answered
        ),
        bars=[
            charts.Bar(_label(c), c.share_correct or 0.0, note=f"({c.correct}/{c.n})")
            for c in answered
        ],
        axis_label=_("share correct"),
    )
    timed = [c for c in answered if c.time_median is not None]
    time = charts.time_chart(
        chart_id="chart-time",
        title=_("Time used against the limit, per challenge"),
        description="; ".join(
            f"{_label(c)}: median {percent(c.time_median)} of the limit, middle half "
            f"{percent(c.time_p25)} to {percent(c.time_p75)}, {c.timed_out} of "
            f"{c.opened} ran out of time"
            for c in timed
        ),
        rows=[
            charts.TimeRow(_label(c), c.time_shares, c.time_p25, c.time_median, c.time_p75)
            for c in timed
        ],
    )
    longest = max((len(c.attempts) for c in answered), default=0)
    # Every row gets the same categories: 1..the most attempts any challenge allows, then 0.
    categories = [*range(1, longest), 0]
    attempts = charts.stacked_bar_chart(
        chart_id="chart-attempts",
        title=_("Attempts used, per challenge"),
        description="; ".join(
            f"{_label(c)}: " + ", ".join(f"{_attempt_label(k)} {count}" for k, count in c.attempts)
            for c in answered
        ),
        categories=[_attempt_label(k) for k in categories],
        rows=[
            charts.StackRow(_label(c), [dict(c.attempts).get(k, 0) for k in categories])
            for c in answered
        ],
    )
    return {"correct": correct, "time": time, "attempts": attempts}


def _options_chart(figure: ChallengeFigures, index: int):
    if not figure.options or not figure.first_answers:
        return None
    return charts.bar_chart(
        chart_id=f"chart-options-{index}",
        title=_("First answers of %(challenge)s, per option") % {"challenge": _label(figure)},
        description="; ".join(
            f"{o.text}{' (correct)' if o.correct else ''}: {o.picked} of {figure.first_answers}"
            for o in figure.options
        ),
        bars=[
            charts.Bar(
                o.text,
                o.share_of_first or 0.0,
                note=f"({o.picked}){' ✓ correct' if o.correct else ''}",
                emphasis=o.correct,
            )
            for o in figure.options
        ],
        axis_label=_("share of first answers picking it"),
    )


def analytics_view(model_admin):
    def view(request, object_id):
        challenge_set = get_object_or_404(model_admin.get_queryset(request), pk=object_id)
        version = request.GET.get("version") or None
        try:
            result = analytics.set_analytics(
                challenge_set,
                now=timezone.now(),
                version=int(version) if version is not None else None,
            )
        except ValueError as exc:
            raise Http404("No such version") from exc
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": _("Analytics of %(title)s") % {"title": challenge_set.title},
            "original": challenge_set,
            "result": result,
            "charts": _overview_charts(result) if result.sessions else None,
            "details": [
                {"figure": figure, "options_chart": _options_chart(figure, index)}
                for index, figure in enumerate(result.challenges, start=1)
            ],
            "thresholds": {
                "min_sessions": analytics_flags.MIN_SESSIONS_FOR_FLAGS,
                "too_hard": analytics_flags.TOO_HARD_BELOW,
                "too_easy": analytics_flags.TOO_EASY_ABOVE,
                "distractor": analytics_flags.DISTRACTOR_MIN_SHARE,
                "distractor_lift": analytics_flags.DISTRACTOR_MIN_LIFT,
                "distractor_wrong": analytics_flags.DISTRACTOR_MIN_WRONG_ANSWERS,
                "time": analytics_flags.TIME_OUT_SHARE,
                "discrimination": analytics_flags.LOW_DISCRIMINATION_BELOW,
                "pool_gap": analytics_variants.POOL_MEMBER_GAP,
                "pool_z": analytics_variants.POOL_MEMBER_MIN_Z,
            },
        }
        return render(request, "admin/assessments/challengeset/analytics.html", context)

    return view


ChallengeSetAdmin.object_pages.append(
    ("<int:object_id>/analytics/", analytics_view, "assessments_challengeset_analytics")
)
