"""Sign-in throttling: django-axes' backend, for sign-ins that come with a request."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class SignInThrottleBackend(AxesStandaloneBackend):
    """Refuses a locked-out username and address before any password is checked.

    django-axes raises when `authenticate()` has no request. Every web sign-in passes one (Django's
    LoginView and the admin's, through AuthenticationForm), so those are always counted. A call without
    a request (a script, the test client's `login()`) has no address to count against and nothing
    to throttle: it is left to the next backend, instead of failing.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
