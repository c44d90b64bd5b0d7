"""Greenhouse's Assessment Partner routes (docs/greenhouse.md). They are not in the ``api``
namespace: tests/greenhouse/test_greenhouse.py checks their tenant isolation."""

from django.urls import path

from assessments.hr.greenhouse import views as greenhouse

app_name = "greenhouse"

urlpatterns = [
    path("list_tests", greenhouse.ListTestsView.as_view(), name="list_tests"),
    path("send_test", greenhouse.SendTestView.as_view(), name="send_test"),
    path("test_status", greenhouse.TestStatusView.as_view(), name="test_status"),
    path("response_error", greenhouse.ResponseErrorView.as_view(), name="response_error"),
]
