"""Parse and validate an AppSpec file the way CodeDeploy does.

Public API (the server imports this to validate uploads):

    parse_appspec(text, filename="appspec.yml") -> AppSpec     raises AppSpecError

Errors keep CodeDeploy's wording and add the file name and line number. Line numbers come
from YAML nodes, so we walk the composed node tree instead of the loaded data; that also
lets us read a scalar's source text, which matters for `mode: 0644` (YAML would load 420).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import yaml

from fleetdeck_agent.acl import AclError
from fleetdeck_agent.acl import parse_entry as parse_acl_entry

APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")

SCRIPTABLE_EVENTS = (
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
UNSCRIPTABLE_EVENTS = ("DownloadBundle", "Install", "BlockTraffic", "AllowTraffic")
# These run the scripts of the group's last successful revision, not the one being deployed.
PREVIOUS_REVISION_EVENTS = ("ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic")

FILE_EXISTS_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")
DEFAULT_TIMEOUT = 3600
# Longer than CodeDeploy's one hour, but bounded: the server stores an event's total in a 32-bit column.
MAX_TIMEOUT = 7 * 24 * 3600
PERMISSION_TYPES = ("file", "directory")


class AppSpecError(Exception):
    """An invalid AppSpec. `message` is the bare CodeDeploy-style text."""

    def __init__(self, message: str, filename: str = "appspec.yml", line: Optional[int] = None):
        self.message = message
        self.filename = filename
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename}, line {self.line}"
        return f"{where}: {self.message}"


@dataclass
class FileMapping:
    source: str
    destination: str
    line: Optional[int] = None


@dataclass
class Permission:
    object: str
    pattern: str = "**"
    except_: List[str] = field(default_factory=list)
    owner: Optional[str] = None
    group: Optional[str] = None
    mode: Optional[str] = None  # octal digits, padded to at least 3
    acls: List[str] = field(default_factory=list)
    context: Optional[Dict[str, str]] = None
    type: List[str] = field(default_factory=lambda: list(PERMISSION_TYPES))
    line: Optional[int] = None

    @property
    def mode_int(self) -> Optional[int]:
        return None if self.mode is None else int(self.mode, 8)


@dataclass
class Hook:
    location: str
    timeout: int = DEFAULT_TIMEOUT
    runas: Optional[str] = None
    line: Optional[int] = None


@dataclass
class AppSpec:
    version: str
    os: str
    files: List[FileMapping] = field(default_factory=list)
    permissions: List[Permission] = field(default_factory=list)
    hooks: Dict[str, List[Hook]] = field(default_factory=dict)
    file_exists_behavior: Optional[str] = None
    filename: str = "appspec.yml"

    def scripts_for(self, event: str) -> List[Hook]:
        return list(self.hooks.get(event, []))

    def all_scripts(self) -> List[Hook]:
        return [hook for hooks in self.hooks.values() for hook in hooks]

    def event_timeout(self, event: str) -> int:
        return sum(hook.timeout for hook in self.scripts_for(event))


def parse_appspec(text: str, filename: str = "appspec.yml") -> AppSpec:
    """Parse AppSpec text; raise AppSpecError naming the file and line of the first problem."""
    return _Parser(filename).parse(text)


def load_appspec(directory: str) -> AppSpec:
    """Read appspec.yml (or appspec.yaml) from an extracted revision directory."""
    import os

    for name in APPSPEC_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                return parse_appspec(fh.read(), name)
    raise AppSpecError(f"The revision has no {' or '.join(APPSPEC_NAMES)} at its root", APPSPEC_NAMES[0])


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts other scripts' digits (and int() reads them), which no host expects.
    return text.isascii() and text.isdigit()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Parser:
    def __init__(self, filename: str):
        self.filename = filename

    def error(self, message: str, node: Optional[yaml.Node] = None) -> AppSpecError:
        return AppSpecError(message, self.filename, _line(node) if node is not None else None)

    # -- node helpers -------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, what: str) -> Dict[str, tuple]:
        """Return {key: (key_node, value_node)} for a mapping node."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{what} must be a mapping", node)
        result: Dict[str, tuple] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                raise self.error(f"{what} has a key that is not a plain name", key_node)
            if key in result:
                raise self.error(f"{what} defines '{key}' more than once", key_node)
            result[key] = (key_node, value_node)
        return result

    def sequence(self, node: yaml.Node, what: str) -> List[yaml.Node]:
        if self.is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(f"{what} must be a list", node)
        return list(node.value)

    @staticmethod
    def is_null(node: Optional[yaml.Node]) -> bool:
        return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or self.is_null(node):
            raise self.error(f"{what} must be a string", node)
        return str(node.value)

    def strings(self, node: yaml.Node, what: str) -> List[str]:
        if isinstance(node, yaml.ScalarNode) and not self.is_null(node):
            return [str(node.value)]
        return [self.string(item, what) for item in self.sequence(node, what)]

    # -- sections ---------------------------------------------------------------------------

    def parse(self, text: str) -> AppSpec:
        empty = (
            "The deployment failed because the application specification file was empty. "
            "Make sure your AppSpec file defines at minimum the 'version' and 'os' properties."
        )
        if not text or not text.strip():
            raise self.error(empty)
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "invalid YAML"
            raise AppSpecError(
                f"The application specification file is not valid YAML: {problem}", self.filename, line
            ) from None
        except yaml.YAMLError as exc:
            raise AppSpecError(
                f"The application specification file is not valid YAML: {exc}", self.filename
            ) from None
        except RecursionError:  # PyYAML's composer recurses once per nesting level
            raise AppSpecError(
                "The application specification file nests lists or mappings too deeply", self.filename
            ) from None
        if self.is_null(root):
            raise self.error(empty)
        top = self.mapping(root, "The application specification file")

        if "version" not in top:
            raise self.error("The application specification file must define 'version' (0.0)", root)
        version_node = top["version"][1]
        version = str(version_node.value) if isinstance(version_node, yaml.ScalarNode) else "?"
        if version != "0.0":
            raise self.error(
                f'The deployment failed because an invalid version value ("{version}") was entered in the '
                'application specification file. Make sure your AppSpec file specifies "0.0" as the version.',
                version_node,
            )

        if "os" not in top:
            raise self.error("The application specification file must define 'os' (linux)", root)
        os_node = top["os"][1]
        os_value = str(os_node.value) if isinstance(os_node, yaml.ScalarNode) else "?"
        if os_value != "linux":
            raise self.error(
                f"The deployment failed because the application specification file specifies an unsupported "
                f'operating system ("{os_value}"). Specify "linux" in the os section of the AppSpec file.',
                os_node,
            )

        spec = AppSpec(version=version, os=os_value, filename=self.filename)
        if "file_exists_behavior" in top:
            node = top["file_exists_behavior"][1]
            value = self.string(node, "file_exists_behavior").upper()
            if value not in FILE_EXISTS_BEHAVIORS:
                raise self.error(
                    f'Invalid file_exists_behavior "{node.value}": '
                    f"use one of {', '.join(FILE_EXISTS_BEHAVIORS)}",
                    node,
                )
            spec.file_exists_behavior = value
        if "files" in top:
            spec.files = self.parse_files(top["files"][1])
        if "permissions" in top:
            spec.permissions = self.parse_permissions(top["permissions"][1])
        if "hooks" in top:
            spec.hooks = self.parse_hooks(top["hooks"][1])
        return spec

    def parse_files(self, node: yaml.Node) -> List[FileMapping]:
        mappings: List[FileMapping] = []
        seen: Dict[tuple, int] = {}
        for item in self.sequence(node, "files"):
            entry = self.mapping(item, "Each files entry")
            for key in ("source", "destination"):
                if key not in entry or self.is_null(entry[key][1]):
                    raise self.error(
                        f"The deployment failed because a files entry has no {key} value. "
                        f"Specify both source and destination in the files section of the AppSpec file.",
                        item,
                    )
            source = self.string(entry["source"][1], "files source")
            # A relative destination is resolved against `/` at Install (the CodeDeploy agent's working
            # directory), with a warning there.
            destination = self.string(entry["destination"][1], "files destination")
            key = (source.strip("/") or "/", destination.rstrip("/") or "/")
            if key in seen:
                raise self.error(
                    f"The deployment failed because the application specification file specifies the source "
                    f'"{source}" for the destination "{destination}" twice (first at line {seen[key]}).',
                    item,
                )
            seen[key] = _line(item)
            mappings.append(FileMapping(source, destination, _line(item)))
        return mappings

    def parse_mode(self, node: yaml.Node) -> str:
        # Read the source text: YAML turns an unquoted 0644 into the integer 420.
        text = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
        if not _is_ascii_digits(text):
            raise self.error(f'Invalid mode "{text}": a mode is 1 to 4 octal digits, such as 644', node)
        if len(text) > 4:
            raise self.error(
                f'Invalid mode "{text}": a mode has at most 4 octal digits (this one has {len(text)})', node
            )
        bad = sorted({digit for digit in text if digit in "89"})
        if bad:
            raise self.error(f'Invalid mode "{text}": {", ".join(bad)} is not an octal digit', node)
        return text.rjust(3, "0")

    def parse_permissions(self, node: yaml.Node) -> List[Permission]:
        permissions: List[Permission] = []
        seen: Dict[tuple, int] = {}
        for item in self.sequence(node, "permissions"):
            entry = self.mapping(item, "Each permissions entry")
            if "object" not in entry or self.is_null(entry["object"][1]):
                raise self.error(
                    "The deployment failed because a permissions entry has no object value.", item
                )
            perm = Permission(object=self.string(entry["object"][1], "permissions object"), line=_line(item))
            if "pattern" in entry and not self.is_null(entry["pattern"][1]):
                perm.pattern = self.string(entry["pattern"][1], "permissions pattern")
            if "except" in entry:
                perm.except_ = self.strings(entry["except"][1], "permissions except")
            for key in ("owner", "group"):
                if key in entry and not self.is_null(entry[key][1]):
                    setattr(perm, key, self.string(entry[key][1], f"permissions {key}"))
            if "mode" in entry and not self.is_null(entry["mode"][1]):
                perm.mode = self.parse_mode(entry["mode"][1])
            if "acls" in entry:
                perm.acls = self.strings(entry["acls"][1], "permissions acls")
                for acl_entry in perm.acls:
                    try:
                        parse_acl_entry(acl_entry)
                    except AclError as exc:
                        raise self.error(str(exc), entry["acls"][1]) from None
            if "context" in entry and not self.is_null(entry["context"][1]):
                perm.context = self.parse_context(entry["context"][1])
            if "type" in entry and not self.is_null(entry["type"][1]):
                types = self.strings(entry["type"][1], "permissions type")
                unknown = [value for value in types if value not in PERMISSION_TYPES]
                if unknown:
                    raise self.error(
                        f'Invalid permissions type "{unknown[0]}": use file and/or directory',
                        entry["type"][1],
                    )
                perm.type = types
            key = (
                perm.object.rstrip("/") or "/",
                perm.pattern,
                tuple(perm.except_),
                tuple(sorted(perm.type)),
            )
            if key in seen:
                raise self.error(
                    f"The deployment failed because the permissions setting for ({perm.object}) is specified "
                    f"more than once in the application specification file (first at line {seen[key]}).",
                    item,
                )
            seen[key] = perm.line or 0
            permissions.append(perm)
        return permissions

    def parse_context(self, node: yaml.Node) -> Dict[str, str]:
        """SELinux `context`: `name` (the SELinux user), `type` (required) and `range`, as in CodeDeploy.
        Fleetdeck also takes `user` for `name`."""
        context: Dict[str, str] = {}
        for key, (key_node, value_node) in self.mapping(node, "permissions context").items():
            if key not in ("name", "user", "type", "range"):
                raise self.error(
                    f'Unknown permissions context key "{key}": use name, type or range', key_node
                )
            field_name = "user" if key == "name" else key
            if field_name in context:
                raise self.error("permissions context sets the SELinux user twice (name and user)", key_node)
            context[field_name] = self.string(value_node, f"permissions context {key}")
        if "type" not in context:
            raise self.error("permissions context needs a type, such as httpd_sys_content_t", node)
        return context

    def parse_hooks(self, node: yaml.Node) -> Dict[str, List[Hook]]:
        if self.is_null(node):
            return {}
        events = self.mapping(node, "hooks")
        unscriptable = [name for name in events if name in UNSCRIPTABLE_EVENTS]
        if unscriptable:
            raise self.error(
                f"The hooks section names {', '.join(unscriptable)}: DownloadBundle, Install, "
                "BlockTraffic and AllowTraffic are performed by the agent or the server "
                "and cannot run scripts.",
                events[unscriptable[0]][0],
            )
        unknown = [name for name in events if name not in SCRIPTABLE_EVENTS]
        if unknown:
            raise self.error(
                f"The application specification file contains unknown lifecycle event names: "
                f"{', '.join(unknown)}. Valid names are {', '.join(SCRIPTABLE_EVENTS)}.",
                events[unknown[0]][0],
            )
        hooks: Dict[str, List[Hook]] = {}
        for event, (key_node, value_node) in events.items():
            scripts = []
            for item in self.sequence(value_node, f"hooks {event}"):
                scripts.append(self.parse_hook(item, event))
            total = sum(hook.timeout for hook in scripts)
            if total > MAX_TIMEOUT:
                raise self.error(
                    f"The scripts of {event} have timeouts that add up to {total} seconds: "
                    f"keep a whole lifecycle event within {MAX_TIMEOUT} seconds.",
                    key_node,
                )
            if scripts:
                hooks[event] = scripts
        return hooks

    def parse_hook(self, item: yaml.Node, event: str) -> Hook:
        entry = self.mapping(item, f"Each {event} script")
        if "location" not in entry or self.is_null(entry["location"][1]):
            raise self.error(
                "The deployment failed because the application specification file specifies a script with no "
                f"location value ({event}). Specify the location in the hooks section of the AppSpec file.",
                item,
            )
        hook = Hook(location=self.string(entry["location"][1], "script location"), line=_line(item))
        if "timeout" in entry and not self.is_null(entry["timeout"][1]):
            timeout_node = entry["timeout"][1]
            text = str(timeout_node.value).strip() if isinstance(timeout_node, yaml.ScalarNode) else ""
            if not _is_ascii_digits(text) or len(text) > 12 or not 0 < int(text) <= MAX_TIMEOUT:
                raise self.error(
                    f'The deployment failed because an invalid timeout value ("{text[:40]}") was provided '
                    f"for the script {hook.location} in {event}. "
                    f"The timeout must be a whole number of seconds from 1 to {MAX_TIMEOUT}.",
                    timeout_node,
                )
            hook.timeout = int(text)
        if "runas" in entry and not self.is_null(entry["runas"][1]):
            hook.runas = self.string(entry["runas"][1], "runas")
        return hook
