"""THE role x permission table. Every route names one permission; this decides.

`admin` is the platform operator (no tenant of its own); the other roles belong
to one tenant and only ever act inside it. Changing access means changing this
table (and `README.md`, which a test keeps equal to `markdown_matrix()`).
"""

from __future__ import annotations

import enum

from app.models.user import ROLES


class Role(enum.StrEnum):
    ADMIN = "admin"
    CUSTOMER_ADMIN = "customer_admin"
    CUSTOMER_USER = "customer_user"
    READONLY = "readonly"


assert tuple(Role) == ROLES  # the database CHECK constraint and this enum agree

# Higher may grant lower or equal, never above itself.
ROLE_RANK = {Role.READONLY: 0, Role.CUSTOMER_USER: 1, Role.CUSTOMER_ADMIN: 2, Role.ADMIN: 3}
TENANT_ROLES = (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER, Role.READONLY)


class Permission(enum.StrEnum):
    TENANTS_CREATE = "tenants:create"
    TENANTS_LIST = "tenants:list"
    TENANTS_READ = "tenants:read"
    TENANTS_UPDATE = "tenants:update"
    TENANTS_DEACTIVATE = "tenants:deactivate"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_MANAGE = "api_keys:manage"
    SELF_READ = "self:read"
    MANDATES_READ = "mandates:read"
    MANDATES_WRITE = "mandates:write"
    AP2_PRESENT = "ap2:present"
    ISSUERS_READ = "issuers:read"
    ISSUERS_MANAGE = "issuers:manage"
    AUDIT_READ = "audit:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    ALERTS_READ = "alerts:read"
    ALERTS_MANAGE = "alerts:manage"
    PLATFORM_OPERATE = "platform:operate"


_READ_DATA = {
    Permission.SELF_READ,
    Permission.MANDATES_READ,
    Permission.ISSUERS_READ,
    Permission.ALERTS_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CUSTOMER_ADMIN: frozenset(
        _READ_DATA
        | {
            Permission.TENANTS_READ,
            Permission.TENANTS_UPDATE,
            Permission.USERS_READ,
            Permission.USERS_MANAGE,
            Permission.API_KEYS_READ,
            Permission.API_KEYS_MANAGE,
            Permission.MANDATES_WRITE,
            Permission.AP2_PRESENT,
            Permission.ISSUERS_MANAGE,
            Permission.AUDIT_READ,
            Permission.WEBHOOKS_MANAGE,
            Permission.ALERTS_MANAGE,
        }
    ),
    # Operators acknowledge and resolve the alerts about the mandates they handle.
    Role.CUSTOMER_USER: frozenset(
        _READ_DATA | {Permission.MANDATES_WRITE, Permission.ALERTS_MANAGE, Permission.AP2_PRESENT}
    ),
    Role.READONLY: frozenset(_READ_DATA | {Permission.AUDIT_READ}),
}


def allows(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def may_grant(granter: str, role: str) -> bool:
    """A role may hand out roles up to its own rank (never above)."""
    return ROLE_RANK[Role(role)] <= ROLE_RANK[Role(granter)]


def markdown_matrix() -> str:
    """The table as Markdown (README.md carries this text verbatim)."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(f"`{r}`" for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        marks = " | ".join("yes" if allows(r, permission) else "-" for r in roles)
        lines.append(f"| `{permission}` | {marks} |")
    return "\n".join(lines)
