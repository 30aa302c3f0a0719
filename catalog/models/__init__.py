"""The offering: pricing units, billable metrics, products, rate cards and rates, packages.

Field names follow Metronome's API (reference section 3) so that the API maps 1:1 onto the models.
One module per family: `units`, `metrics`, `products`, `rate_cards`, `packages` (and `common`)."""

from .common import (  # noqa: F401
    MONEY,
    ArchivableQuerySet,
    Frequency,
    group_values_key,
    is_hour_aligned,
)
from .metrics import (  # noqa: F401
    BillableMetric,
    group_keys_problem,
    property_filters_problem,
)
from .packages import (  # noqa: F401
    Package,
)
from .products import (  # noqa: F401
    Product,
    ProductUpdate,
)
from .rate_cards import (  # noqa: F401
    CreditTypeConversion,
    Rate,
    RateCard,
    RateCardAlias,
    RateTier,
    tiers_problem,
)
from .units import (  # noqa: F401
    PricingUnit,
)
