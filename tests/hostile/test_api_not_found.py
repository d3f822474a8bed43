"""A path under /api/ that matches no route answers JSON, like every other API error (found by schemathesis)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-resource/",
        "/api/v1/registration-tokens/not-a-number/",
        "/api/v1/projects/has a space/members/",
        "/api/v1/deployments/0/events/",
    ],
)
def test_an_unrouted_api_path_gets_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/schema/" in response.json()["detail"]


def test_other_unrouted_paths_keep_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
