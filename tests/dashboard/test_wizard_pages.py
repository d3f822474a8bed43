"""What the wizard's pages show: a stepper with the current step, the slug from the name, template
cards with their descriptions, one error for a bad repository, copy buttons for the token and the
commands, and a getting-started checklist on the new project's overview."""

from __future__ import annotations

import re

import pytest

from dashboard.starters import TEMPLATES
from deployments.models import Application, Deployment, DeploymentConfig, Instance, Revision
from integrations.models import GitHubConnection
from projects.models import Project

pytestmark = pytest.mark.django_db

GOOD = {
    "project": {"name": "Shop", "slug": "shop", "template": "static-nginx"},
    "repository": {"kind": "github", "repository": "acme/shop"},
    "target": {
        "application": "shop-web",
        "group": "production",
        "tags": "role=web",
        "deployment_config": "CodeDeployDefault.AllAtOnce",
    },
    "tracker": {"tracker": "none"},
}


@pytest.fixture
def client(client, user):
    client.force_login(user)
    return client


def fill(client, *steps):
    for step in steps or GOOD:
        response = client.post(f"/projects/new/{step}/", GOOD[step])
        assert response.status_code == 302, response.content.decode()[:2000]


def stepper(html: str) -> str:
    return html.split('<ol class="wizard-steps"')[1].split("</ol>")[0]


def test_the_stepper_marks_the_current_step_and_numbers_each_step_once(client):
    fill(client, "project")
    nav = stepper(client.get("/projects/new/repository/").content.decode())
    current = re.findall(r'<li class="([^"]*)" aria-current="step">(.*?)</li>', nav, re.S)
    assert len(current) == 1 and "Repository" in current[0][1]
    assert "1. " not in nav and "2. " not in nav  # the list numbers the steps; the text does not again
    done = re.search(r'<li class="done">(.*?)</li>', nav, re.S)
    assert done and "Name and template" in done.group(1) and "(done)" in done.group(1)
    assert "(current step)" in current[0][1]


def test_a_blank_slug_is_made_from_the_name(client):
    response = client.post(
        "/projects/new/project/", {"name": "Acme Shop 2!", "slug": "", "template": "blank"}
    )
    assert response.status_code == 302
    assert client.session["setup_wizard"]["project"]["slug"] == "acme-shop-2"


def test_the_slug_field_follows_the_name_in_the_browser(client):
    html = client.get("/projects/new/project/").content.decode()
    assert 'data-slug-from="id_name"' in html
    assert "js/wizard.js" in html


def test_templates_are_cards_that_carry_their_descriptions(client):
    html = client.get("/projects/new/project/").content.decode()
    assert '<fieldset class="cards"' in html
    for template in TEMPLATES.values():
        card = re.search(
            rf'<label class="card-choice"[^>]*>\s*<input type="radio" name="template" value="{template.key}"'
            rf"[^>]*>(.*?)</label>",
            html,
            re.S,
        )
        assert card, template.key
        assert template.label in card.group(1) and template.description in card.group(1)
    assert "<select" not in html.split('<fieldset class="cards"')[1].split("</fieldset>")[0]


def test_a_bad_repository_name_gives_one_error(client):
    fill(client, "project")
    response = client.post("/projects/new/repository/", {"kind": "github", "repository": "not-a-repo"})
    assert response.status_code == 200
    assert len(response.context["form"].errors["repository"]) == 1


def test_help_texts_are_tied_to_their_fields(client):
    html = client.get("/projects/new/project/").content.decode()
    assert 'aria-describedby="id_slug_helptext"' in html and 'id="id_slug_helptext"' in html


def test_the_install_command_has_a_copy_button(client):
    fill(client, "project", "repository")
    html = client.get("/projects/new/target/").content.decode()
    assert 'data-copy="install-command"' in html and 'id="install-command"' in html


def test_the_done_page_has_copy_buttons_and_shows_the_generated_webhook_secret_once(client):
    fill(client)
    response = client.post("/projects/new/review/")
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert 'data-copy="install-command"' in html and "js/copy.js" in html
    secret = GitHubConnection.objects.get().webhook_secret
    assert f'<code id="webhook-secret">{secret}</code>' in html
    assert "https://github.com/acme/shop/settings/hooks/new" in html


def test_the_new_projects_overview_shows_a_getting_started_checklist_until_it_is_done(client, user):
    fill(client)
    client.post("/projects/new/review/")
    project = Project.objects.get(slug="shop")
    html = client.get("/p/shop/").content.decode()
    assert 'class="card getting-started"' in html
    checklist = html.split('class="card getting-started"')[1].split("</section>")[0]
    assert (
        "Install an agent" in checklist
        and "Upload a revision" in checklist
        and "First deployment" in checklist
    )
    assert 'href="/p/shop/fleet/install/"' in checklist
    assert checklist.count('class="done"') == 0

    instance = Instance(project=project, name="web-1", tags={"role": "web"})
    instance.credential = instance.rotate_credential()
    instance.save()
    application = Application.objects.get(project=project)
    revision = Revision.objects.create(application=application, bundle_type="tgz", description="1.0")
    checklist = client.get("/p/shop/").content.decode().split('class="card getting-started"')[1]
    assert checklist.split("</section>")[0].count('class="done"') == 2

    Deployment.objects.create(
        application=application,
        deployment_group=application.deployment_groups.get(),
        revision=revision,
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce"),
        created_by=user,
    )
    assert "getting-started" not in client.get("/p/shop/").content.decode()


def test_review_names_a_problem_by_the_fields_label_not_its_id(client):
    fill(client)
    Project.objects.create(name="Racer", slug="shop")
    html = client.post("/projects/new/review/").content.decode()
    problems = html.split('role="alert"')[1].split("</div>")[0]
    assert "Slug: The slug &#x27;shop&#x27; is taken" in problems
    assert "slug:" not in problems
    assert 'href="/projects/new/project/"' in problems


def test_the_fleets_one_time_token_and_install_line_have_copy_buttons(user):
    from django.test import Client

    from projects.models import Membership

    project = Project.objects.create(name="Shop", slug="shop")
    Membership.objects.create(project=project, user=user, role="owner")
    client = Client()
    client.force_login(user)
    html = client.post(
        "/p/shop/fleet/tokens/new/", {"tags": "role=web", "expires_in_days": "7"}
    ).content.decode()
    assert 'data-copy="raw-token"' in html and 'data-copy="install-line"' in html and "js/copy.js" in html
    install = client.get("/p/shop/fleet/install/").content.decode()
    assert 'data-copy="install-line"' in install and 'id="install-line"' in install
