"""Forms for profiles, personal API tokens and project settings."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.contrib.auth import get_user_model

from dashboard.models import SSH_KEY_TYPES, Membership, Project, Role


def validate_ssh_public_key(value: str) -> str:
    """One OpenSSH public key line: type, base64 blob whose embedded type matches, optional comment."""
    value = " ".join(value.split())
    if not value:
        return ""
    parts = value.split(" ", 2)
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise forms.ValidationError(
            "Paste one public key line starting with ssh-ed25519, ssh-rsa or ecdsa-sha2-…, "
            "for example the contents of ~/.ssh/id_ed25519.pub."
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise forms.ValidationError("The key's second part is not valid base64.") from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if length <= 0 or blob[4 : 4 + length].decode("ascii", "replace") != parts[0]:
        raise forms.ValidationError(f"The key data does not hold a {parts[0]} key; was it cut short?")
    return value


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(required=False)
    ssh_public_key = forms.CharField(
        required=False,
        label="SSH public key",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One line, e.g. the contents of ~/.ssh/id_ed25519.pub.",
    )

    def clean_ssh_public_key(self) -> str:
        return validate_ssh_public_key(self.cleaned_data["ssh_public_key"])


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CI pipeline”.")


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, project: Project, **kwargs):
        self.project = project
        super().__init__(*args, **kwargs)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No user named {username!r}.")
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError(f"{username} is already a member.")
        return user


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DeleteProjectForm(forms.Form):
    confirm = forms.CharField(label="Type the project's slug to confirm")

    def __init__(self, *args, project: Project, **kwargs):
        self.project = project
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.project.slug:
            raise forms.ValidationError(f"Type {self.project.slug} exactly to delete the project.")
        return self.cleaned_data["confirm"]
