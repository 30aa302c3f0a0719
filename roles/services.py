"""Keep the role groups holding the permissions `roles.definitions` gives them."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from .definitions import ROLES


def role_permissions(spec, *, permission_model=Permission):
    """The permissions one role's specification names (historical models in migrations)."""
    query = Q(pk__in=[])
    for target, what in spec:
        app_label, _, model = target.partition(".")
        scope = Q(content_type__app_label=app_label)
        if model:
            scope &= Q(content_type__model=model)
        if what == "view":
            scope &= Q(codename__startswith="view_")
        elif what != "all":
            scope &= Q(codename__in=list(what))
        query |= scope
    return permission_model.objects.filter(query)


def roles_sync(*, group_model=Group, permission_model=Permission) -> None:
    """Make the groups if missing and add what their role names; never removes a permission
    (an administrator may have granted more by hand)."""
    for name, spec in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(*role_permissions(spec, permission_model=permission_model))
