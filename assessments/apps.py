"""The ``assessments`` app: one Django app (label ``assessments``) made of feature packages."""

from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Challenge sets"

    def ready(self) -> None:
        # The HR edge subscribes to the core's events, so the core never imports the edge.
        # Order matters to no one, but is fixed: webhooks first, then Greenhouse.
        from assessments.core.events import event_subscribe
        from assessments.hr.greenhouse.services import greenhouse_event_apply
        from assessments.hr.webhooks.services import event_fan_out

        event_subscribe(event_fan_out)
        event_subscribe(greenhouse_event_apply)
