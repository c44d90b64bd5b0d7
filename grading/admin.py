"""Grading jobs in the admin, read-only: members follow their organization's jobs and see why
one failed. Payloads (answers, keys, hidden tests) and results are never shown here."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_site import TenantAdmin
from grading.models import GradingJob


@admin.register(GradingJob)
class GradingJobAdmin(TenantAdmin):
    """Jobs are written by the application; here they are followed, never edited."""

    list_display = (
        "public_id", "purpose", "answer_format", "status", "failure_reason", "sandbox_verdict",
        "deliveries", "requested_at", "finished_at",
    )  # fmt: skip
    list_filter = ("status", "failure_reason", "purpose", "answer_format")
    date_hierarchy = "requested_at"
    fields = (
        "public_id", "purpose", "answer_format", "status", "failure_reason", "last_error",
        "sandbox_verdict", "deliveries", "requested_at", "started_at", "claimed_at",
        "finished_at", "sandbox_wall_ms", "sandbox_cpu_ms",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the jobs are the grading record
