"""Every facility, bridge point, practitioner, role and patient of the demo
world maps to a resource that validates against FHIR R4 (4.0.1)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.fhir.world import counts, invalid_resources


@pytest.fixture
def demo_world(backend: str, request: pytest.FixtureRequest) -> Session:
    # `backend` is named so the dynamic request below runs once per database.
    del backend
    try:
        session: Session = request.getfixturevalue("demo_db")
    except NotImplementedError:
        pytest.skip("puente.demo.load_demo is not built yet")
    return session


def test_every_resource_of_the_demo_world_is_valid_r4(demo_world: Session) -> None:
    expected = counts(demo_world)
    for resource_type, n in expected.items():
        assert n > 0, f"the demo world has no {resource_type} to check"
    checked, failures = invalid_resources(demo_world, limit=20)
    assert failures == [], "\n".join(failures)
    assert checked == sum(expected.values())
