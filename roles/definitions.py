"""The three roles and what each may do, as data: (app label or "app_label.model", permissions).

"all" is every permission of the model or app (add, change, delete, view, and custom ones such
as `invoicing.finalize_invoice`); "view" the view permissions; otherwise a list of codenames.
Plain data, read by the data migration that makes the groups and by `roles.services.roles_sync`
after every `migrate`, so a model added later (webhooks) joins a role by being named here.
"""

FINANCE_ADMIN = "Finance admin"
FINANCE_VIEWER = "Finance viewer"
ENGINEER = "Engineer"

# What finance staff see: the Offering, Customers and Getting paid sections, usage, the audit
# trail.
FINANCE_APPS = ["catalog", "customers", "invoicing", "payments", "dashboards"]
SEEN_BY_ALL = [*FINANCE_APPS, "metering", "audit"]

ROLES: dict[str, list[tuple[str, str | list[str]]]] = {
    FINANCE_ADMIN: [
        *[(app, "all") for app in FINANCE_APPS],
        *[(app, "view") for app in SEEN_BY_ALL],
        ("metering.usageevent", ["send_test_event"]),
    ],
    FINANCE_VIEWER: [(app, "view") for app in SEEN_BY_ALL],
    ENGINEER: [
        *[(app, "view") for app in SEEN_BY_ALL],
        ("core.apitoken", "all"),
        ("core.domainevent", "view"),
        ("catalog.billablemetric", "all"),
        ("metering.usageevent", ["send_test_event"]),
        ("notifications", "all"),
    ],
}
