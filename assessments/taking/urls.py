"""Candidate URLs: everything under /t/<token>/."""

from django.urls import path

from assessments.taking import views

app_name = "take"

urlpatterns = [
    path("<str:token>/", views.landing, name="landing"),
    path("<str:token>/start/", views.start, name="start"),
    path("<str:token>/current/", views.current, name="current"),
    path("<str:token>/q/<int:position>/", views.question, name="question"),
    path("<str:token>/q/<int:position>/answer/", views.answer, name="answer"),
    path("<str:token>/q/<int:position>/hint/", views.hint, name="hint"),
    path("<str:token>/q/<int:position>/state/", views.state, name="state"),
    path("<str:token>/signal/", views.signal, name="signal"),
    path("<str:token>/results/", views.results, name="results"),
]
