"""The admin site: finance staff's home, grouped as Offering and Customers instead of per app."""

from django.contrib import admin

# (section name, [(app_label, model_name), ...]) in the order finance staff work through them.
SECTIONS = [
    (
        "Offering",
        [
            ("catalog", "billablemetric"),
            ("catalog", "product"),
            ("catalog", "ratecard"),
            ("catalog", "package"),
            ("catalog", "pricingunit"),
        ],
    ),
    (
        "Customers",
        [
            ("customers", "customer"),
            ("customers", "contract"),
            ("invoicing", "invoice"),
        ],
    ),
    (
        "Getting paid",
        [
            ("payments", "billingproviderconnection"),
            ("payments", "invoicepayment"),
            ("payments", "providerevent"),
        ],
    ),
    (
        "Developers",
        [
            ("notifications", "webhookendpoint"),
            ("notifications", "webhookdelivery"),
            ("notifications", "alert"),
        ],
    ),
]


class BillingAdminSite(admin.AdminSite):
    site_header = "Billing"
    site_title = "Billing admin"
    index_title = "Offering and customers"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        models = {
            (app["app_label"], model["object_name"].lower()): (app, model)
            for app in apps
            for model in app["models"]
        }
        placed = set()
        sections = []
        for index, (name, members) in enumerate(SECTIONS):
            section_models = []
            for key in members:
                if key in models:
                    section_models.append(models[key][1])
                    placed.add(key)
            if section_models:
                sections.append(
                    {
                        "name": name,
                        "app_label": name.lower(),
                        "app_url": section_models[0]["admin_url"],
                        "has_module_perms": True,
                        "models": section_models,
                        "section_index": index,
                    }
                )
        # Everything else (usage events, API tokens, users, schedules) stays reachable below.
        rest = []
        for app in apps:
            remaining = [
                m
                for m in app["models"]
                if (app["app_label"], m["object_name"].lower()) not in placed
            ]
            if remaining:
                rest.append({**app, "models": remaining})
        return sections + rest
