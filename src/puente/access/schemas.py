"""Request and response bodies of the access API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from puente.enums import AccessRole, AuditOutcome, ScopeKind
from puente.schemas import LanguageCode, Schema

Username = Annotated[
    str, StringConstraints(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenRequest(Schema):
    username: Username
    password: Password
    ttl_minutes: Annotated[int, Field(ge=5, le=60 * 24 * 30)] = 480


class TokenRead(Schema):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class GrantIn(Schema):
    role: AccessRole
    scope: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None


class GrantRead(Schema):
    role: AccessRole
    scope: ScopeKind
    scope_code: str | None = None


class UserCreate(Schema):
    username: Username
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    password: Password | None = None
    preferred_language: LanguageCode = "en"
    grants: list[GrantIn] = Field(default_factory=list, max_length=50)


class UserRead(Schema):
    username: str
    display_name: str
    active: bool
    must_change_password: bool
    preferred_language: str
    grants: list[GrantRead]


class UserCreated(UserRead):
    temporary_password: str | None = None


class PasswordChange(Schema):
    current_password: Password
    new_password: Password


class PasswordReset(Schema):
    temporary_password: str


class AuditRead(Schema):
    id: int
    at: datetime
    username: str
    role: str | None
    action: str
    outcome: AuditOutcome
    patient_id: int | None
    resource_type: str
    resource_id: str | None
    client_address: str | None
    request_id: str | None
    detail: str | None
