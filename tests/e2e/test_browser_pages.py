"""The project pages in Debian's Chromium against the live stack: applications and groups made from
the browser and deployed to, one navigation everywhere, forms that keep input and place errors by
their fields, the 404 frame, values that never break mid-word, and questions before deleting."""

from __future__ import annotations

import re

import pytest
from page_setup import PageRollout, make_user
from test_browser_deployments import chromium, login  # noqa: F401  (the module's browser fixture)

from deployments.models import Application, DeploymentGroup

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
TABS = ["Overview", "Deployments", "Groups", "Revisions", "Fleet", "Integrations", "Team", "Settings"]

# Words broken across lines inside one text node (a <wbr> starts a new text node, so a break there is
# allowed), and boxes whose content is wider than the box.
MID_WORD_BREAKS = """(root) => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const re = /\\S+/g; let m;
    while ((m = re.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  const overflowing = [...root.querySelectorAll('dd, dt, td, th, h1, h2')]
    .filter(el => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
    .map(el => el.textContent.trim().slice(0, 60));
  return {broken, overflowing, pageWider: document.documentElement.scrollWidth > window.innerWidth};
}"""


# Elements that stick out past the right edge of the window (outside any scrolling box).
TOO_WIDE = """() => {
  if (document.documentElement.scrollWidth <= window.innerWidth) return [];
  return [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-wrap'))
    .map(el => el.tagName + '.' + el.className + '#' + el.id).slice(0, 8);
}"""


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def sized_page(chromium, request):  # noqa: F811  (the imported fixture)
    context = chromium.new_context(viewport=SIZES[request.param])
    yield context.new_page()
    context.close()


@pytest.fixture
def page(chromium):  # noqa: F811
    context = chromium.new_context(viewport=SIZES["desktop"])
    yield context.new_page()
    context.close()


def test_a_contributor_creates_an_application_and_a_group_then_deploys_to_it_and_watches_it_finish(
    live_stack, fleet, tmp_path, page
):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, ["web-1", "web-2"])
    groups = f"/p/{r.project.slug}/groups/"
    login(page, live_stack.url, make_user(r.project, "contributor"), groups)

    page.get_by_label("Application name").fill(f"store-{fleet.tag}")
    page.get_by_role("button", name="Create application").click()
    expect(page.locator(".messages")).to_contain_text(f"Created the application store-{fleet.tag}")
    # The new-group form opens with the new application chosen.
    page.get_by_label("Group name").fill("site")
    page.get_by_label("Deployment configuration").select_option("CodeDeployDefault.HalfAtATime")
    page.get_by_label("Hosts with these tags").fill(f"fleet={fleet.tag}")
    page.get_by_label("Files that already exist").select_option(label="Overwrite the content")
    page.get_by_role("button", name="Create deployment group").click()
    page.wait_for_url(re.compile(rf".*/groups/store-{fleet.tag}/site/$"))
    expect(page.locator("#config-h + dl")).to_contain_text("Overwrite the content")
    expect(page.locator(".instance-row")).to_have_count(2)

    r.app = Application.objects.get(project=r.project, name=f"store-{fleet.tag}")
    r.revision("v1")
    page.get_by_role("link", name="Deploy to this group").click()
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("Batch 2")  # HalfAtATime over two hosts: the plan before it starts
    for host in r.hosts:
        expect(preview).to_contain_text(host)
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_url(re.compile(r".*/deployments/d-[A-Z0-9]+/$"))
    expect(page.locator("#dep-status")).to_have_text("Succeeded", timeout=90_000)
    group = DeploymentGroup.objects.get(application=r.app, name="site")
    assert group.file_exists_behavior == "OVERWRITE"


def test_every_project_page_carries_the_same_navigation(live_stack, fleet, tmp_path, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    r = PageRollout(live_stack, fleet, tmp_path, [])
    base = f"/p/{r.project.slug}"
    login(page, live_stack.url, r.owner, f"{base}/")
    pages = {
        f"{base}/": "Overview",
        f"{base}/deployments/": "Deployments",
        f"{base}/deployments/new/": "Deployments",
        f"{base}/groups/": "Groups",
        f"{base}/groups/{r.app.name}/web/": "Groups",
        f"{base}/deployments/revisions/": "Revisions",
        f"{base}/fleet/": "Fleet",
        f"{base}/fleet/tokens/": "Fleet",
        f"/integrations/p/{r.project.slug}/": "Integrations",
        f"{base}/team/": "Team",
        f"{base}/settings/": "Settings",
    }
    for path, tab in pages.items():
        page.goto(f"{live_stack.url}{path}")
        nav = page.get_by_role("navigation", name="Project")
        expect(nav).to_be_visible()
        assert nav.get_by_role("link").all_inner_texts() == TABS, path
        expect(nav.locator('[aria-current="page"]')).to_have_text(tab)
        expect(
            page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=r.project.name)
        ).to_have_count(0 if tab == "Overview" else 1)
        box = nav.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], path
        if tab != "Integrations":  # the integrations page is being reworked in the same issue (wizint)
            assert page.evaluate(TOO_WIDE) == [], path


def test_a_bad_form_keeps_the_input_and_shows_each_error_by_its_field(live_stack, fleet, tmp_path, page):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, [])
    new = f"/p/{r.project.slug}/groups/new/"
    login(page, live_stack.url, make_user(r.project, "contributor"), new)
    page.get_by_label("Group name").fill("web")  # taken: the API's rule
    page.get_by_label("Deployment configuration").select_option("CodeDeployDefault.AllAtOnce")
    page.get_by_label("Hosts with these tags").fill("role=web\nenv=")
    page.get_by_role("button", name="Create deployment group").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Group name")).to_have_value("web")
    expect(page.get_by_label("Hosts with these tags")).to_have_value("role=web\nenv=")
    expect(page.get_by_label("Deployment configuration")).to_have_value("CodeDeployDefault.AllAtOnce")
    # The tags are judged first; the summary links to the field, and the message sits by it.
    link = summary.get_by_role("link", name=re.compile("Hosts with these tags: Line 2"))
    link.click()
    expect(page.get_by_label("Hosts with these tags")).to_be_focused()
    message = page.locator("#id_tags_error")
    expect(message).to_contain_text("Line 2 (“env=”) has no value")
    field, error = page.get_by_label("Hosts with these tags").bounding_box(), message.bounding_box()
    assert 0 <= field["y"] - (error["y"] + error["height"]) < 40  # right above its field

    page.get_by_label("Hosts with these tags").fill("role=web")
    page.get_by_role("button", name="Create deployment group").click()
    expect(page.locator("#id_name_error")).to_contain_text(
        f"{r.app.name} already has a deployment group named web"
    )
    expect(page.get_by_role("alert").get_by_role("link", name=re.compile("Group name"))).to_have_count(1)
    assert DeploymentGroup.objects.filter(application=r.app).count() == 1


def test_the_404_page_keeps_the_frame(live_stack, fleet, tmp_path, sized_page):
    from playwright.sync_api import expect

    page = sized_page
    r = PageRollout(live_stack, fleet, tmp_path, [])
    login(page, live_stack.url, r.owner, f"/p/{r.project.slug}/")
    response = page.goto(f"{live_stack.url}/p/no-such-project/")
    assert response.status == 404
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    page.get_by_role("link", name="Back to your projects").click()
    expect(page.get_by_role("link", name=r.project.name)).to_be_visible()


def test_no_value_breaks_mid_word_on_the_group_page(live_stack, fleet, tmp_path, sized_page):
    page = sized_page
    r = PageRollout(live_stack, fleet, tmp_path, [], config="CodeDeployDefault.HalfAtATime")
    DeploymentGroup.objects.filter(pk=r.group.pk).update(
        file_exists_behavior="DISALLOW",
        auto_rollback_events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        health_check={"url": "http://{hostname}:8080/internal/health/readiness", "bake_seconds": 30},
        tag_set=[
            [{"key": "environment", "value": "production", "type": "KEY_AND_VALUE"}],
            [{"key": "role", "value": "", "type": "KEY_ONLY"}],
        ],
        tag_filters=[],
    )
    path = f"/p/{r.project.slug}/groups/{r.app.name}/web/"
    login(page, live_stack.url, make_user(r.project, "contributor"), path)
    found = page.evaluate(MID_WORD_BREAKS, page.locator("main").element_handle())
    assert found == {"broken": [], "overflowing": [], "pageWider": False}
    text = page.locator(".config-card").inner_text()
    assert "Fail the deployment" in text and "DISALLOW" not in text
    assert "CodeDeployDefault.HalfAtATime" in text


def test_a_destructive_action_asks_first(live_stack, fleet, tmp_path, page):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, [])
    groups = f"/p/{r.project.slug}/groups/"
    login(page, live_stack.url, make_user(r.project, "contributor"), groups)
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.get_by_role("button", name=f"Delete {r.app.name}/web").click()
    expect(page.get_by_role("link", name="web", exact=True)).to_be_visible()
    assert DeploymentGroup.objects.filter(pk=r.group.pk).exists()
    assert questions == [
        f"Delete the deployment group {r.app.name}/web and its deployment history? This cannot be undone."
    ]

    page.once("dialog", lambda d: answer(d, True))
    page.get_by_role("button", name=f"Delete {r.app.name}/web").click()
    expect(page.locator(".messages")).to_contain_text(f"Deleted the deployment group {r.app.name}/web")
    assert not DeploymentGroup.objects.filter(pk=r.group.pk).exists()
