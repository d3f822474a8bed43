"""Make hook output safe to print on a terminal.

Hook scripts are written by anyone with push rights, and their output reaches the terminal of whoever
runs `fleetdeck logs` or `watch`. Escape sequences there can retitle the window, plant hyperlinks,
clear the screen, move the cursor to overwrite earlier lines, or feed a terminal's own request/answer
sequences back as input. So everything but plain text goes: OSC, DCS and other strings, every
control sequence, and control characters other than tab. Colours (SGR) stay, and only when printing to
a terminal, and only the ones that colour or weight text.
"""

from __future__ import annotations

import re
from typing import List

# String sequences (OSC, DCS, SOS, PM, APC) run to BEL or ST, or to the end of the line if cut short.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
_CSI = r"(?:\x1b\[|\x9b)(?P<params>[0-?]*)(?P<middle>[ -/]*)(?P<final>[@-~])"
_ESCAPE = r"\x1b[ -/]*[0-~]?"  # two-character and charset escapes (ESC c, ESC 7, ESC ( B), a lone ESC
_CONTROL = r"[\x00-\x08\x0a-\x1f\x7f-\x9f]"
_PATTERN = re.compile(f"{_STRING}|{_CSI}|{_ESCAPE}|{_CONTROL}", re.DOTALL)

_PLAIN_SGR = {0, 1, 2, 3, 4, 22, 23, 24, 39, 49, *range(30, 38), *range(40, 48), *range(90, 98)}
_PLAIN_SGR.update(range(100, 108))


def _plain_colours(params: str) -> bool:
    """SGR parameters that only colour or weight text (no blink, conceal, reverse or font tricks)."""
    if not params:
        return True
    if not re.fullmatch(r"[0-9;]*", params):
        return False
    values: List[int] = [int(value) if value else 0 for value in params.split(";")]
    index = 0
    while index < len(values):
        value = values[index]
        if value in (38, 48):  # 256-colour (5;n) or true-colour (2;r;g;b)
            kind = values[index + 1] if index + 1 < len(values) else -1
            width = {5: 1, 2: 3}.get(kind)
            if width is None or index + 2 + width > len(values):
                return False
            if any(not 0 <= part <= 255 for part in values[index + 2 : index + 2 + width]):
                return False
            index += 2 + width
            continue
        if value not in _PLAIN_SGR:
            return False
        index += 1
    return True


def clean(text: str, colours: bool = False) -> str:
    """`text` without terminal control sequences; with `colours`, plain SGR colours are kept."""

    def replace(match: re.Match[str]) -> str:
        if colours and match.group("final") == "m" and not match.group("middle"):
            params = match.group("params")
            if _plain_colours(params):
                return f"\x1b[{params}m"
        return ""

    return _PATTERN.sub(replace, text)
