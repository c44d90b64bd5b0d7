"""Forms of the accounts pages."""

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _


class JoinForm(forms.Form):
    """Create an account to accept an invitation sent to an address with no account yet."""

    full_name = forms.CharField(label=_("Full name"), max_length=200)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password
