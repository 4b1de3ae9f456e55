"""Schemathesis against Puente's own OpenAPI document, signed in as a real
role (Rosa, national administrator, so every operation is reachable): for
every operation, generated requests — valid and invalid — never get a 5xx,
and every documented answer matches its own schema. A second run covers the
FHIR endpoints. Bounded (``FUZZ_EXAMPLES`` per operation) so that CI stays
quick; raise ``PUENTE_FUZZ_EXAMPLES`` for a longer hunt.

The app runs on a database of its own with a small world in it (the
Vietnamese consult network, a Moscow polyclinic with slots), committed, so
that generated ids sometimes hit real rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy.orm import sessionmaker

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine
from puente.enums import AccessRole
from tests import factories as f
from tests.conftest import migrated_url
from tests.consults.network import build
from tests.scheduling.world import moscow_world, next_monday, virtual_schedule

FUZZ_EXAMPLES = int(os.environ.get("PUENTE_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Operations that would sign Rosa herself out mid-run (not errors; they
# just end the run's authority): revoking her token, her own password, a reset.
SIGN_OUT = (
    r"^(DELETE /api/auth/token"
    r"|(POST|PUT|PATCH) /api/(auth/password|users/\{username\}/password-reset))$"
)


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{backend}")
    url = migrated_url(backend, tmp, suffix="fuzz")
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as db:
        build(db)
        world = moscow_world(db)
        virtual_schedule(db, world, days=2, rules=[(next_monday().weekday(), time(9), time(11))])
        headers = f.bearer(db, f.user(db, "rosa.registrar", AccessRole.national_admin))
        db.commit()
    app = create_app(
        Settings(environment="test", database_url=url, data_dir=tmp), session_factory=factory
    )
    yield Target(app, headers)
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema(target: Target) -> Any:
    # The document straight from the app (what /openapi.json serves); calls
    # then go to the app in-process.
    loaded = schemathesis.openapi.from_dict(target.app.openapi())
    loaded.app = target.app
    return loaded


def _labels() -> list[str]:
    """Every operation of the OpenAPI document (read from an app that needs
    no database to describe itself), as "METHOD /path"."""
    import re
    import tempfile
    from pathlib import Path

    app = create_app(
        Settings(environment="test", database_url="sqlite://", data_dir=Path(tempfile.mkdtemp()))
    )
    out = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            label = f"{method.upper()} {path}"
            wanted = method in ("get", "post", "put", "patch", "delete")
            if wanted and not re.match(SIGN_OUT, label):
                out.append(label)
    return sorted(out)


LABELS = _labels()
JSON_OPERATIONS = [label for label in LABELS if " /fhir" not in label]
FHIR_OPERATIONS = [label for label in LABELS if " /fhir" in label]


def _fuzz(api_schema: Any, target: Target, label: str) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=target.headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # No parameters to make invalid (GET /fhir/metadata, say).
            assert mode is GenerationMode.NEGATIVE, label
    # Still signed in: the operations after this one are fuzzed as Rosa, not
    # refused as anonymous (a run that revoked her token would prove nothing).
    with TestClient(target.app, headers=target.headers) as c:
        assert c.get("/api/auth/me").status_code == 200, f"{label} signed Rosa out"


def test_the_fuzzer_sees_every_operation_of_both_runs() -> None:
    assert len(JSON_OPERATIONS) > 100 and len(FHIR_OPERATIONS) >= 5
    assert "POST /api/consults" in JSON_OPERATIONS and "POST /fhir/Patient" in FHIR_OPERATIONS


@pytest.mark.parametrize("label", JSON_OPERATIONS)
def test_no_json_operation_answers_5xx_or_breaks_its_own_schema(
    api_schema: Any, target: Target, label: str
) -> None:
    _fuzz(api_schema, target, label)


@pytest.mark.parametrize("label", FHIR_OPERATIONS)
def test_no_fhir_operation_answers_5xx_or_breaks_its_own_schema(
    api_schema: Any, target: Target, label: str
) -> None:
    _fuzz(api_schema, target, label)
