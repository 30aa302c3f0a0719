"""The Offering section of the admin: pricing units, billable metrics, products, rate cards, packages.

One module per page family (`metrics`, `products`, `rate_cards`, `packages`); importing this package
registers them all. Money and prices as finance staff read them are in `display`; the shared admin
pieces (the Archived filter, the Archive action, nested rows) in `core.admin_forms`.
"""

from . import metrics, packages, products, rate_cards  # noqa: F401  (registers the admins)
