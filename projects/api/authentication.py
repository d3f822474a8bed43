"""`Authorization: Token fdp_…` with a personal API token, the only kind of API token.

Tokens are stored as hashes (see ApiToken); anything else after `Token` is refused with a reason.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from projects.models import ApiToken


class PersonalTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower().encode():
            return None
        try:
            raw = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token is not valid text.") from None
        if not raw.startswith(f"{ApiToken.PREFIX}_"):
            raise exceptions.AuthenticationFailed(
                f"Not an API token: they start with {ApiToken.PREFIX}_. Create one at /profile/tokens/."
            )
        token = ApiToken.authenticate(raw)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "projects.api.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal API token from /profile/tokens/: `Token fdp_…`",
        }
