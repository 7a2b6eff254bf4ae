"""The Admin API fuzzed from its own OpenAPI document (schemathesis): requests made from
every operation's declared shapes, sent to a live server as an admin; no answer is a 500,
and every answer matches what the document says (status code, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import insert_subscriber, write_post

EXAMPLES = 6  # per operation: enough to reach each code path, quick enough for CI
# A request the document allows may still be refused by what the shapes cannot say (a
# post `publisher check` refuses: 422; a resume of a finished campaign: 409).
ACCEPTED_REFUSALS = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def admin_api(console):
    """The document as the live server serves it, with a site worth calling (a post, a
    subscriber) and an admin's API key for every request."""
    write_post(console.config.root, "2026-11-30-hello.md", "title: Hello\ndate: 2026-11-30")
    insert_subscriber(console.store, "reader@example.com")
    console.add_staff("admin@example.org", "admin")
    key = console.api_key("admin@example.org")
    schema = schemathesis.openapi.from_url(f"{console.url}/admin/api/openapi.json")
    schema.console = console
    schema.key = key
    return schema


def test_the_api_answers_as_its_document_says(admin_api) -> None:
    """Each operation in turn (pytest's schemathesis plugin does not load with this pytest,
    so the operations are walked here; each runs `EXAMPLES` generated requests)."""
    console, key = admin_api.console, admin_api.key
    operations = [result.ok() for result in admin_api.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def call(case) -> None:
            case.call_and_validate(
                base_url=f"{console.url}/admin/api",
                headers={"authorization": f"Bearer {key}"},
                excluded_checks=ACCEPTED_REFUSALS,
            )

        call()
