"""The setup wizard in Debian's Chromium against the live stack: the stepper marks the current step,
the slug follows the name until it is edited, templates are cards, and the copy buttons copy."""

from __future__ import annotations

import uuid

import pytest
from page_setup import make_user
from test_browser_deployments import chromium, login  # noqa: F401  (the module's browser fixture)

from projects.models import Project


@pytest.fixture
def clipboard_page(chromium, live_stack):  # noqa: F811  (the imported fixture)
    context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    yield context.new_page()
    context.close()


def current_step(page) -> str:
    return page.locator('ol.wizard-steps li[aria-current="step"]').inner_text()


def test_a_new_user_walks_the_wizard_with_the_stepper_the_slug_and_the_copy_buttons(
    live_stack, clipboard_page
):
    from playwright.sync_api import expect

    page = clipboard_page
    base = live_stack.url
    login(page, base, make_user(None, None), "/projects/new/project/")

    expect(page.locator('ol.wizard-steps li[aria-current="step"]')).to_have_count(1)
    assert "Name and template" in current_step(page)
    assert "1." not in page.locator("ol.wizard-steps").inner_text()

    # The slug follows the name, stops following once edited, and follows again when cleared.
    suffix = uuid.uuid4().hex[:6]
    page.get_by_label("Name", exact=True).fill(f"Wizard Shop {suffix}!")
    expect(page.get_by_label("Slug")).to_have_value(f"wizard-shop-{suffix}")
    page.get_by_label("Slug").fill(f"shop-{suffix}")
    page.get_by_label("Name", exact=True).fill(f"Another name {suffix}")
    expect(page.get_by_label("Slug")).to_have_value(f"shop-{suffix}")

    # Templates are cards carrying their descriptions; clicking a card chooses it.
    card = page.locator("label.card-choice", has_text="Static site served by nginx")
    expect(card).to_contain_text("served by nginx on port 80")
    card.click()
    expect(card.locator("input")).to_be_checked()
    page.get_by_role("button", name="Save and continue").click()

    assert "Repository" in current_step(page)
    expect(page.locator("ol.wizard-steps li.done")).to_contain_text("Name and template")
    page.get_by_role("button", name="Save and continue").click()  # "None for now"

    assert "Deployment target" in current_step(page)
    expect(page.get_by_label("Application name")).to_have_value(f"shop-{suffix}")
    copy = page.locator('button[data-copy="install-command"]')
    expect(copy).to_have_text("Copy the command")
    copy.click()
    expect(copy).to_have_text("Copied")
    command = page.locator("#install-command").inner_text().strip()
    assert page.evaluate("navigator.clipboard.readText()") == command
    page.get_by_role("button", name="Save and continue").click()

    assert "Issue tracker" in current_step(page)
    page.get_by_role("button", name="Save and continue").click()
    assert "Review" in current_step(page)
    page.get_by_role("button", name="Create the project").click()

    expect(page.get_by_role("heading", name=f"Another name {suffix} is ready")).to_be_visible()
    page.get_by_role("button", name="Copy the token").click()
    token = page.evaluate("navigator.clipboard.readText()")
    assert token.startswith("fdr_") and token in page.locator("#install-command").inner_text()

    page.get_by_role("link", name="Open the project dashboard").click()
    checklist = page.locator(".getting-started")
    expect(checklist).to_contain_text("Install an agent")
    expect(checklist).to_contain_text("First deployment")
    assert Project.objects.get(slug=f"shop-{suffix}").template == "static-nginx"
