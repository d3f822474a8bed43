"""POSIX ACL entries from an appspec's `acls`, read and completed the way CodeDeploy's agent does.

    parse_entry("u:bob:7")            -> Ace(default=False, kind="user", name="bob", perms="rwx")
    full_acl(["u:bob:7"], 0o654, False)
        -> ["user:bob:rwx", "user::rw-", "group::r-x", "other::r--", "mask::r-x"]

The whole ACL is then set at once (`setfacl --set`): the base entries come from the file's mode, and a
mask, unless one is given, from its group bits. So a named entry never grants more than the group class
of the mode allows, where `setfacl -m` would widen the mask to cover it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

_KINDS = {"u": "user", "user": "user", "g": "group", "group": "group", "m": "mask", "mask": "mask"}
_KINDS.update({"o": "other", "other": "other"})


class AclError(ValueError):
    pass


@dataclass(frozen=True)
class Ace:
    default: bool
    kind: str  # user | group | mask | other
    name: str
    perms: str  # "rwx" with "-" for a missing right

    def text(self) -> str:
        return f"{'default:' if self.default else ''}{self.kind}:{self.name}:{self.perms}"


def _perms(text: str, entry: str) -> str:
    if len(text) == 1 and text in "01234567":
        bits = int(text)
        return "".join(flag if bits & value else "-" for flag, value in (("r", 4), ("w", 2), ("x", 1)))
    unknown = sorted(set(text) - set("rwx-"))
    if unknown or not text:
        raise AclError(f'Invalid acl entry "{entry}": permissions are r, w, x and -, or one octal digit')
    return "".join(flag if flag in text else "-" for flag in "rwx")


def parse_entry(entry: str, internal: bool = False) -> Ace:
    """One entry: `[d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]:]name:perms`; a bare `name:perms` is a user."""
    parts = entry.split(":")
    if not 2 <= len(parts) <= 4:
        raise AclError(f'Invalid acl entry "{entry}": use [d:][u|g|m|o:]name:rwx')
    default = False
    if len(parts) == 4:
        if parts[0] not in ("d", "default"):
            raise AclError(f'Invalid acl entry "{entry}": only d: or default: may come first')
        default, parts = True, parts[1:]
    kind = None
    if len(parts) == 3:
        head = parts[0]
        if head in ("d", "default") and not default:
            default = True
        elif head in _KINDS:
            kind = _KINDS[head]
        else:
            raise AclError(f'Invalid acl entry "{entry}": unknown entry type "{head}"')
        parts = parts[1:]
    name, perms = parts
    if name in ("m", "mask", "o", "other"):
        if kind is None:
            kind, name = _KINDS[name], ""
        else:
            raise AclError(f'Invalid acl entry "{entry}"')
    kind = kind or "user"
    if kind in ("mask", "other") and name:
        raise AclError(f'Invalid acl entry "{entry}": a {kind} entry has no name')
    if not internal and not default and kind != "mask" and not name:
        raise AclError(
            f'Invalid acl entry "{entry}": the owner, group and other entries come from `mode`; '
            "set them there"
        )
    return Ace(default, kind, name, _perms(perms, entry))


def full_acl(entries: List[str], mode: int, is_dir: bool) -> List[str]:
    """The complete ACL to set on a path with this mode: the entries, the base entries from the mode,
    and the masks CodeDeploy adds."""
    aces = [parse_entry(entry) for entry in entries]
    if any(ace.default for ace in aces) and not is_dir:
        raise AclError("default (d:) acl entries apply to directories only")
    user, group, other = (_perms(str((mode >> shift) & 7), "") for shift in (6, 3, 0))
    aces += [Ace(False, "user", "", user), Ace(False, "group", "", group), Ace(False, "other", "", other)]
    access = [a for a in aces if not a.default]
    if any(a.name for a in access) and not any(a.kind == "mask" for a in access):
        aces.append(Ace(False, "mask", "", group))
    defaults = [a for a in aces if a.default]
    if defaults:
        for kind, perms in (("user", user), ("group", group), ("other", other)):
            if not any(a.kind == kind and not a.name for a in defaults):
                aces.append(Ace(True, kind, "", perms))
        default_group = next(a for a in aces if a.default and a.kind == "group" and not a.name)
        if any(a.name for a in defaults) and not any(a.kind == "mask" for a in defaults):
            aces.append(Ace(True, "mask", "", default_group.perms))
    return [ace.text() for ace in aces]
