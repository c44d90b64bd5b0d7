"""The tasks module Celery's autodiscovery imports: each feature defines its own tasks.

Importing them here registers them with the worker. Every task keeps the name it had when
they all lived in this module (``assessments.tasks.<name>``): queued messages, the beat
schedule and grading jobs' callbacks carry those names.
"""

from assessments.authoring.tasks import key_job_done
from assessments.hr.greenhouse.tasks import deliver_greenhouse_callback, sweep_greenhouse_callbacks
from assessments.hr.webhooks.tasks import deliver_webhook, sweep_webhook_deliveries
from assessments.invitations.tasks import send_candidate_invitation
from assessments.taking.tasks import answer_graded, sweep_sessions, variant_ready

__all__ = [
    "answer_graded",
    "deliver_greenhouse_callback",
    "deliver_webhook",
    "key_job_done",
    "send_candidate_invitation",
    "sweep_greenhouse_callbacks",
    "sweep_sessions",
    "sweep_webhook_deliveries",
    "variant_ready",
]
