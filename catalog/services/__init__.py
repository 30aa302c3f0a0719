"""Writes to the offering: pricing units, billable metrics, products, rate cards, rates, packages.

Every write runs the model's full_clean(), so the API answers with the same rules and the same words
as the admin. Errors are Django ValidationErrors keyed by model field name; the API layer renames
them to the wire's names (billable_metric -> billable_metric_id)."""

from .common import (  # noqa: F401
    already_archived,
    save_clean,
)
from .metrics import (  # noqa: F401
    billable_metric_archive,
    billable_metric_create,
    billable_metric_create_sql,
    billable_metric_rename,
    sql_metric_check,
)
from .packages import (  # noqa: F401
    package_archive,
    package_create,
    package_terms_stored,
)
from .products import (  # noqa: F401
    QuantityConversion,
    QuantityRounding,
    product_archive,
    product_create,
    product_update,
)
from .rate_cards import (  # noqa: F401
    AliasSpec,
    CommitRateSpec,
    ConversionSpec,
    Tier,
    latest_started_windows,
    rate_add,
    rate_card_archive,
    rate_card_create,
    rate_card_products_move,
    rate_card_products_order_set,
    rate_card_update,
    rate_price_change,
    rates_add_many,
)
from .units import (  # noqa: F401
    pricing_unit_archive,
    pricing_unit_create,
)
