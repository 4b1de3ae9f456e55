"""The signed-in user as the rest of Puente sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from puente.access.policy import ROLE_PERMISSIONS, Permission
from puente.enums import AccessRole, ScopeKind


@dataclass(frozen=True)
class Grant:
    role: AccessRole
    scope: ScopeKind
    region_id: int | None = None
    facility_id: int | None = None


@dataclass
class Principal:
    user_id: int
    username: str
    display_name: str
    grants: tuple[Grant, ...]
    patient_id: int | None = None
    must_change_password: bool = False
    # "token" for bearer tokens, "session" for the browser cookie.
    via: str = "token"
    csrf_token: str | None = None
    # Facility sets already resolved for a permission during this request.
    _scopes: dict[Permission, frozenset[int] | None] = field(default_factory=dict, repr=False)

    def has(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[g.role] for g in self.grants)

    def grants_for(self, permission: Permission) -> list[Grant]:
        return [g for g in self.grants if permission in ROLE_PERMISSIONS[g.role]]

    def role_for(self, permission: Permission | None) -> str | None:
        """The role that authorises ``permission`` (for the audit record)."""
        grants = self.grants_for(permission) if permission else list(self.grants)
        return (
            grants[0].role.value if grants else (self.grants[0].role.value if self.grants else None)
        )

    @property
    def roles(self) -> frozenset[AccessRole]:
        return frozenset(g.role for g in self.grants)
