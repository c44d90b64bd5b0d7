from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("organization/switch/", views.switch_organization, name="switch_organization"),
    path("join/<str:token>/", views.join, name="join"),
]
