from django import forms
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm, UserChangeForm

from ops.throttle import LoginThrottleMixin
from tenancy.models import User


class EmailAuthenticationForm(LoginThrottleMixin, AuthenticationForm):
    """Django's login form, labelled for email addresses, and throttled: after too many failed
    logins for an email or from an address it refuses without checking the password
    (``ops.throttle``)."""

    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That email and password do not match an account. Check both and try again."
        ),
    }


class AdminUserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class AdminUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
