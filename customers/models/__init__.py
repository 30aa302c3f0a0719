"""Customers, their ingest aliases, contracts and the contract terms.

Field names follow Metronome's API (reference sections 3.3, 3.6 and 3.8). One module per family:
`customer`, `contracts`, `balances` (commits, credits, segments, the ledger), `terms` (and `common`)."""

from .balances import (  # noqa: F401
    AccessSegment,
    BalanceLedgerEntry,
    BalanceTerm,
    Commit,
    Credit,
)
from .billing import (  # noqa: F401
    BillingProviderConfiguration,
    RevenueSystemConfiguration,
)
from .charges import (  # noqa: F401
    Discount,
    DiscountItem,
    ProfessionalService,
    ProServiceItem,
)
from .common import (  # noqa: F401
    HOUR_MESSAGE,
    QUANTITY_CREDIT_TYPE_ID,
    start_before_end,
    window_errors,
)
from .contracts import (  # noqa: F401
    Contract,
    ContractConfigurationChange,
    ContractEdit,
    ContractTransition,
    ContractUsageFilter,
)
from .customer import (  # noqa: F401
    Customer,
    IngestAlias,
)
from .gates import PaymentGate  # noqa: F401
from .recurring import (  # noqa: F401
    RecurringBalance,
    SubscriptionQuantity,
)
from .royalties import ResellerRoyalty  # noqa: F401
from .schedules import (  # noqa: F401
    NamedScheduleSegment,
)
from .spend_trackers import SpendTracker  # noqa: F401
from .terms import (  # noqa: F401
    CommitInvoiceItem,
    Override,
    OverrideTier,
    ScheduledCharge,
    ScheduledChargeItem,
    ScheduleItem,
    Subscription,
)
