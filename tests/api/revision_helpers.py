"""Where registered revisions live in tests (API, CLI and page tests): a versioned bucket on the shared
moto server and the local GitHub fake, each with the project's connection to it.

tests/integrations must be on sys.path (for `fakes`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_fixtures import aws_client
from factories import make_aws, make_github
from fakes import FakeServer, github_fake, running


def releases_bucket(project, endpoint_url: str):
    """A boto3 S3 client; the bucket "releases" is versioned and the project's AWS connection reaches it."""
    client = aws_client("s3", endpoint_url)
    client.create_bucket(Bucket="releases")
    client.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    make_aws(project, endpoint_url)
    return client


@contextmanager
def connected_github(project) -> Iterator[FakeServer]:
    """The GitHub fake (acme/shop), connected to the project; stopped afterwards."""
    with running(github_fake) as fake:
        make_github(project, fake.url)
        yield fake
