"""Reads for invoicing: a contract's billing period loaded into a `RatingInput`, invoices as shown.

`rating_input_for` is the one place the database meets the pure engine: it loads the rate card's
rates in effect during the period, the usage of each USAGE product per pricing and presentation
group values and per rate segment (from metering's aggregates, never by scanning raw events here),
the contract's subscriptions and scheduled charge items, into frozen dataclasses. A handful of
queries whatever the number of events: one per distinct (metric, group keys, rate segment).

One module per concern: `engine_inputs` (models as the engine's dataclasses, rate windows),
`preload` (the rating input, loaded for a batch), `invoices` (invoices as shown, invoice lists),
`balances` (what drafts draw from commits and credits), `late` (late events), `breakdowns`
(invoices by day or hour: breakdowns, costs), `spend` (breakdowns as usage and spend charts),
`charts` (the admin's charts of a contract, from `spend`)."""

from .balances import (  # noqa: F401
    balances_now,
    draft_balance_draws,
)
from .breakdowns import (  # noqa: F401
    WINDOW_SIZES,
    Breakdown,
    customer_breakdowns,
    invoice_breakdowns,
    window_bounds,
    window_start,
)
from .charts import (  # noqa: F401
    DailyChart,
    contract_spend_to_date,
    contract_usage_by_day,
)
from .consolidated import consolidated_members, origins  # noqa: F401
from .contract_flags import invoices_with_contracts, with_children_flag  # noqa: F401
from .draw_order import DraftsInOrder  # noqa: F401
from .engine_inputs import (  # noqa: F401
    overlapping,
    product_from,
    rate_from,
    rate_windows,
)
from .hierarchy import in_draw_order  # noqa: F401
from .invoices import (  # noqa: F401
    InvoiceView,
    consolidated_copy,
    consolidated_view,
    contract_invoices,
    contracts_scheduled_dates,
    customer_invoices,
    drafts_preload,
    invoice_rate,
    invoice_view,
    invoice_views,
    line_item_copy,
    line_item_from,
    line_items_from,
    lines_in_total,
    sql_metric_drafts_read,
)
from .late import (  # noqa: F401
    customer_late_event_count,
    events_late,
    finalized_periods_for,
    is_late,
)
from .payers import invoice_payer_contract, invoice_payers  # noqa: F401
from .preload import (  # noqa: F401
    RatingPreload,
    invoice_period,
    rating_input_for,
    scheduled_billing_period,
    window_of,
)
from .rate_schedule import (  # noqa: F401
    ContractRate,
    contract_rates_at,
)
from .seats import (  # noqa: F401
    SeatBalances,
    seat_balances,
    seat_total_key,
)
from .spend import (  # noqa: F401
    SpendOverTime,
    UsageSeries,
    spend_over_time,
)
from .usage_reads import customer_event_ids  # noqa: F401
