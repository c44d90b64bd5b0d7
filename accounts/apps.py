from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "People and organizations"


class AuthoringAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the organization-scoped site as ``admin.site``."""

    default = False
    default_site = "accounts.admin_site.AuthoringAdminSite"
