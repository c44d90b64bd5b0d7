"""Shared fixtures: two organizations, each with an owner, an author and a reviewer, so every
test has an outsider at hand."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.models import Organization, Role, User
from accounts.tenancy import tenant_context
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory


@dataclass
class Tenant:
    organization: Organization
    owner: User
    author: User
    reviewer: User


def _tenant(slug: str) -> Tenant:
    organization = OrganizationFactory(slug=slug, name=slug.upper())
    people = {}
    for role in (Role.OWNER, Role.AUTHOR, Role.REVIEWER):
        user = UserFactory(email=f"{role}@{slug}.example")
        MembershipFactory(organization=organization, user=user, role=role)
        people[role] = user
    return Tenant(organization, people[Role.OWNER], people[Role.AUTHOR], people[Role.REVIEWER])


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _tenant("alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _tenant("beta")


@pytest.fixture
def in_a(tenant_a):
    """Run the test body inside organization A's tenant context."""
    with tenant_context(tenant_a.organization):
        yield tenant_a


def login(client, user: User):
    """Sign the test client in as ``user`` through the real login form."""
    response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def author_client(client, tenant_a):
    return login(client, tenant_a.author)


@pytest.fixture(scope="session")
def redis_clean():
    """Start from an empty test Redis database (broker queues, cache, heartbeats)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def email_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("emails")


@pytest.fixture(scope="session")
def sandbox_socket():
    """A real sandbox server for the session; settings point at its socket."""
    import shutil
    import tempfile
    from pathlib import Path

    from django.conf import settings

    from tests.processes import SandboxProcess

    # Not under pytest's private tmp: the jobs' unprivileged uids must traverse it.
    directory = Path(tempfile.mkdtemp(prefix="ml-assess-sandbox-"))
    directory.chmod(0o711)
    sandbox = SandboxProcess(directory).start()
    previous = settings.SANDBOX_SOCKET
    settings.SANDBOX_SOCKET = str(sandbox.socket)
    try:
        yield str(sandbox.socket)
    finally:
        settings.SANDBOX_SOCKET = previous
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup, django_db_blocker, redis_clean, email_dir, sandbox_socket, tmp_path_factory
):
    """A real worker process consuming both queues, for tests of behaviour the queue owns."""
    from tests.processes import WorkerProcess

    with django_db_blocker.unblock():
        worker = WorkerProcess(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(email_dir),
            SANDBOX_SOCKET=sandbox_socket,
        ).start(tmp_path_factory.mktemp("worker") / "worker.log")
        try:
            worker.wait_ready()
            yield worker
        finally:
            worker.stop()
