"""The accessibility check of the browser tests: axe-core plus the WCAG 2.1 AA checks axe leaves out.

axe-core comes inside axe-playwright-python (its axe.min.js; nothing is downloaded). It finds text
contrast, names, labels and ARIA faults, but not three things a keyboard or low-vision user meets on
every page, so small in-page checks add them:

- `control-border-contrast` (WCAG 1.4.11): a text field's or select's border (or its fill) stands out
  3:1 from what is behind it;
- `skip-link` (WCAG 2.4.1) and `focus-visible` (2.4.7) are checked with the keyboard: where site
  navigation comes before the main content, the first Tab lands on a visible link to it (unless the page
  put focus in the main content itself); every element Tab reaches shows a focus ring of at least 2 px
  that contrasts 3:1 with what is behind it (or a box-shadow ring).

Only serious and critical axe findings fail a test; the added checks are serious by definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe

SIZES = {"1440x900": {"width": 1440, "height": 900}, "390x844": {"width": 390, "height": 844}}
FAILING_IMPACTS = ("serious", "critical")
TAB_STOPS = 30  # how far the keyboard walk goes on one page

_axe = Axe()

# Colour arithmetic shared by the in-page checks (WCAG relative luminance and contrast ratio).
_COLOUR_JS = """
const parse = (c) => {
  const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const lum = ({ r, g, b }) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const ratio = (x, y) => { const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
const behind = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) return c;
  }
  return { r: 255, g: 255, b: 255, a: 1 };
};
const shown = (el) => {
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== "hidden";
};
const name = (el) => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += "#" + el.id;
  else if (el.getAttribute("name")) s += `[name="${el.getAttribute("name")}"]`;
  else if (el.classList.length) s += "." + [...el.classList].join(".");
  return s;
};
const snippet = (el) => el.outerHTML.slice(0, 160);
"""

BORDER_CHECK_JS = (
    "() => {"
    + _COLOUR_JS
    + """
  const found = [];
  const fields = document.querySelectorAll(
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit])" +
    ":not([type=button]):not([type=file]):not([type=range]):not([type=color]), select, textarea");
  for (const el of fields) {
    if (!shown(el)) continue;
    const s = getComputedStyle(el), around = behind(el.parentElement);
    const border = parseFloat(s.borderTopWidth) > 0 ? parse(s.borderTopColor) : null;
    const fill = parse(s.backgroundColor);
    const best = Math.max(border ? ratio(border, around) : 1, fill && fill.a > 0 ? ratio(fill, around) : 1);
    if (best < 3) found.push({ target: name(el), html: snippet(el),
      detail: `its border contrasts ${best.toFixed(2)}:1 with the background (3:1 needed)` });
  }
  return found;
}"""
)

# Run on the element the keyboard just focused.
FOCUS_CHECK_JS = (
    "() => {"
    + _COLOUR_JS
    + """
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el), href = el.getAttribute("href") || "";
  const target = href.startsWith("#") && href.length > 1 ? document.getElementById(href.slice(1)) : null;
  const main = document.querySelector("main");
  const r = el.getBoundingClientRect();
  const ring = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 ? parse(s.outlineColor) : null;
  const contrast = ring ? ratio(ring, behind(el.parentElement)) : 0;
  return {
    target: name(el), html: snippet(el),
    skipsToMain: !!(target && main && (target === main || main.contains(target))),
    onScreen: r.width > 1 && r.height > 1 && r.bottom > 0 && r.right > 0,
    ring: !!ring, contrast, shadow: s.boxShadow !== "none",
    // A skip link is owed where site navigation (a banner or nav landmark) comes before the main content.
    navBeforeMain: !!main && [...document.querySelectorAll("header, nav, [role=banner], [role=navigation]")]
      .some((e) => !main.contains(e) && (e.compareDocumentPosition(main) & Node.DOCUMENT_POSITION_FOLLOWING)),
  };
}"""
)


@dataclass(frozen=True)
class Finding:
    rule: str
    impact: str
    page: str
    size: str
    target: str
    html: str
    detail: str


def page_name(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def axe_findings(page, size: str) -> list[Finding]:
    results = _axe.run(page).response
    found = []
    for violation in results["violations"]:
        if violation.get("impact") not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            summary = (node.get("failureSummary") or violation["help"]).replace("\n", " ")
            found.append(
                Finding(
                    rule=violation["id"],
                    impact=violation["impact"],
                    page=page_name(page.url),
                    size=size,
                    target=", ".join(str(t) for t in node["target"]),
                    html=node.get("html", "")[:160],
                    detail=f"{violation['help']}. {summary}",
                )
            )
    return found


def border_findings(page, size: str) -> list[Finding]:
    return [
        Finding(
            "control-border-contrast",
            "serious",
            page_name(page.url),
            size,
            f["target"],
            f["html"],
            f["detail"],
        )
        for f in page.evaluate(BORDER_CHECK_JS)
    ]


def keyboard_findings(page, size: str) -> list[Finding]:
    """Tab from the top of a freshly loaded page (so the browser shows focus as for a keyboard user)."""
    found: list[Finding] = []
    where = page_name(page.url)
    seen: set[str] = set()
    # A page that puts focus in its main content itself (autofocus on a sign-in field) owes no skip link.
    focused_in_main = page.evaluate(
        "() => { const a = document.activeElement, m = document.querySelector('main');"
        " return !!(a && a !== document.body && m && m.contains(a)); }"
    )
    for stop in range(TAB_STOPS):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_CHECK_JS)
        if focus is None:
            break
        if (
            stop == 0
            and not focused_in_main
            and focus["navBeforeMain"]
            and not (focus["skipsToMain"] and focus["onScreen"])
        ):
            found.append(
                Finding(
                    "skip-link",
                    "serious",
                    where,
                    size,
                    focus["target"],
                    focus["html"],
                    "the first Tab must land on a visible link that skips to the main content",
                )
            )
        if focus["target"] in seen:
            continue
        seen.add(focus["target"])
        if not (focus["shadow"] or (focus["ring"] and focus["contrast"] >= 3)):
            why = (
                f"its focus ring contrasts {focus['contrast']:.2f}:1 (3:1 needed)"
                if focus["ring"]
                else "it shows no focus ring of 2 px or more"
            )
            found.append(
                Finding("focus-visible", "serious", where, size, focus["target"], focus["html"], why)
            )
    return found


def report(findings: list[Finding], per_page: int = 4) -> str:
    """Grouped by rule and page, each element once with the sizes it fails at."""
    groups: dict[tuple[str, str, str], dict[tuple[str, str, str], list[str]]] = {}
    for f in findings:
        group = groups.setdefault((f.rule, f.impact, f.page), {})
        group.setdefault((f.target, f.detail, f.html), []).append(f.size)
    lines = [f"{len(findings)} serious or critical accessibility finding(s):"]
    for (rule, impact, where), elements in groups.items():
        lines.append(f"- {rule} ({impact}) on {where}:")
        for (target, detail, html), sizes in list(elements.items())[:per_page]:
            lines.append(f"    {target} at {', '.join(sizes)}: {detail}")
            lines.append(f"      {' '.join(html.split())}")
        if len(elements) > per_page:
            lines.append(f"    … and {len(elements) - per_page} more element(s)")
    return "\n".join(lines)


def page_findings(page) -> list[Finding]:
    """Everything above, at both sizes, on a page just loaded (reloaded for the second size, so the
    keyboard walk starts from the top again)."""
    found: list[Finding] = []
    for index, (size, viewport) in enumerate(SIZES.items()):
        page.set_viewport_size(viewport)
        if index:
            page.reload()
        found += axe_findings(page, size) + border_findings(page, size) + keyboard_findings(page, size)
    return found
