"""What the dashboard keeps of its own: user profiles. Projects, members and tokens live in projects/."""

from __future__ import annotations

from django.conf import settings
from django.db import models

SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


class Profile(models.Model):
    """What a user tells the team about themselves. Email lives on the user row."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=100, blank=True)
    ssh_public_key = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.display_name or str(self.user)

    @classmethod
    def of(cls, user) -> Profile:
        profile, _ = cls.objects.get_or_create(user=user)
        return profile
