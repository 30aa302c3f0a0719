"""The Offering section of the admin: pricing units, billable metrics, products, rate cards, packages.

One module per page family (`metrics`, `products`, `rate_cards`, `packages`); importing this package
registers them all. The shared pieces (money display, the Archived filter, the Archive action, nested
rows) live in `billing_site.admin_forms`; they and `rate_price_summary` are re-exported here for
modules that imported them from `catalog.admin`.
"""

from billing_site.admin_forms import (  # noqa: F401  (re-exported)
    NESTED_MEDIA,
    ArchivableAdmin,
    ArchivedListFilter,
    HiddenFromIndexMixin,
    admin_link,
    archive_selected,
    money_display,
    pretty_json,
    quantity_display,
)

from . import metrics, packages, products, rate_cards  # noqa: F401  (registers the admins)
from .display import PERIOD_NAMES, rate_price_summary  # noqa: F401
