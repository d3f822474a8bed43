"""The group page's settings form in Debian's Chromium against the live stack (no agents needed)."""

from __future__ import annotations

from browser import login
from page_setup import PageRollout, make_user

from deployments.models import DeploymentGroup


def test_a_contributor_fixes_a_bad_health_check_url_without_retyping_anything(
    live_stack,
    fleet,
    tmp_path,
    page,
):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, [])
    path = f"/p/{r.project.slug}/groups/{r.app.name}/web/"
    login(page, live_stack.url, make_user(r.project, "contributor"), path)

    page.get_by_label("CloudWatch alarms").fill("shop-5xx\nshop-latency")
    page.get_by_label("The deployment fails").check()
    page.get_by_label("Health check URL").fill("{hostname}/health")  # no scheme: the API refuses it
    page.get_by_label("Bake time (seconds)").fill("30")
    page.get_by_role("button", name="Save settings").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator(".errorlist")).to_contain_text("is not an http(s) URL")
    # Nothing typed was lost.
    expect(page.get_by_label("CloudWatch alarms")).to_have_value("shop-5xx\nshop-latency")
    expect(page.get_by_label("The deployment fails")).to_be_checked()
    expect(page.get_by_label("Bake time (seconds)")).to_have_value("30")

    page.get_by_label("Health check URL").fill("http://{hostname}:8080/health")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".messages")).to_contain_text("Saved the settings")
    group = DeploymentGroup.objects.get(pk=r.group.pk)
    assert group.alarm_configuration["alarms"] == ["shop-5xx", "shop-latency"]
    assert group.auto_rollback_events == ["DEPLOYMENT_FAILURE"]
    assert (
        group.health_check["url"] == "http://{hostname}:8080/health"
        and group.health_check["bake_seconds"] == 30
    )

    # A viewer reads the same values and gets no form.
    viewer_page = page.context.browser.new_context().new_page()
    login(viewer_page, live_stack.url, make_user(r.project, "viewer"), path)
    expect(viewer_page.locator("#config-h + dl")).to_contain_text("shop-5xx, shop-latency")
    expect(viewer_page.get_by_role("button", name="Save settings")).to_have_count(0)
    viewer_page.context.close()
