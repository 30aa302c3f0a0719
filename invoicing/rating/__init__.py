"""The rating engine: one billing period's facts in, invoice lines and totals out.

PURE: frozen dataclasses in, frozen dataclasses out; imports only the standard library and
`catalog.money` (a test and an import-linter contract enforce it for every module of this
package). A selector loads a contract's period into a `RatingInput`; `rate_invoice()` computes; a
service saves the `RatingResult`. Re-rating a stored snapshot (`to_json` /
`rating_input_from_json`) reproduces the invoice to the cent.

One module a step: `vocabulary` (enums, group values, checked dataclasses), `inputs`, `outputs`,
`shared` (rounding, the rate in effect, a balance's scope), `overrides` (PREPARE), `usage`,
`subscriptions` (and scheduled charges), `composites`, `burn_down` (order and allocation),
`balances` (commit purchases, applications, true-ups, ledger draws), `hierarchy` and
`draw_order` (balances several invoices draw, one after the other), `custom_units`, `pipeline`
(`rate_invoice`, the step lists, totals) and `snapshots` (JSON round trip). Everything is
importable from `invoicing.rating` itself.

How the numbers are made (the decisions, in one place):

- Money is Decimal. Each line is computed at full precision and rounded once, half up, to the
  pricing unit's smallest amount (`catalog.money.round_amount`); subtotal and total are sums of the
  rounded lines.
- Usage arrives aggregated: one `Usage` per product, pricing group values, presentation group values
  and rate segment (a window of the period inside which the rate for those pricing group values does
  not change). The engine never merges two `Usage` records: UNIQUE, MAX and LATEST are not additive,
  so the aggregation belongs to the selector.
- Each `Usage` becomes one line (or one line per tier it spans). Its quantity is converted (multiply
  or divide) and then rounded (the product's quantity rounding) before pricing; tiers are therefore
  in the converted unit (a tier of size 1 on a per-million product is a million tokens).
- The rate of a `Usage` is the entitled rate of the same product with exactly the same pricing group
  values in effect at the start of its window; when several are, the one that started last wins (a
  price change is a new rate with a later start).
- TIERED is graduated over the whole period, per product and pricing group values: one ladder per
  pricing group, its windows (rate segments) laid end to end in time order, each unit priced by the
  tier its position falls in, under the tiers of the rate of its own segment. A line spanning tiers
  is split into one line per tier, with the tier's level, starting point and size. FLAT segments
  advance the position too; usage without a price does not.
- Presentation group values do not change the price: Metronome documents `pricing_group_key` as
  "pricing for this product will be determined for each pricing_group_key value, as opposed to the
  product as a whole" and `presentation_group_key` as "Groups usage line items on invoices" (the
  SDK's product params; the quickstart's table: "Show breakdowns on the invoice (same price)").
  The rate-card guide (docs.metronome.com, guides/get-started/core-concepts/create-manage-rate-
  cards) was searched for a tier ladder per presentation value and says nothing of it. So the
  presentation lines of one window share that window's part of the ladder: each takes, of every
  tier the window spans, its share of the window's usage (cumulative rounding at storage
  precision, so a line's parts add up to its quantity and a tier's parts to the tier). Which line
  pays the cheaper tier no longer depends on the values' names (`usage._share`).
- Usage whose pricing group values have no rate is metered, not charged: a zero-total line with
  `is_unpriced=True` and no unit price, so staff see why nothing was charged.
- Zero usage gives no line: a `Usage` whose metered quantity is zero is dropped. A nonzero metered
  quantity that rounds to zero still gives a (zero) line, so the usage stays visible.
- SUBSCRIPTION: price x quantity per billing period, on the invoice of that period. ADVANCE is priced
  by the rate in effect when its window starts, ARREARS by the rate in effect when it ends. A window
  shorter than the full period (`full_period`: the schedule's period before the contract's start and
  end cut it) is prorated to the microsecond when the subscription is prorated.
  A subscription whose product has no SUBSCRIPTION rate is listed with `is_unpriced=True`.
- FIXED scheduled charges are due when their timestamp falls in [period start, period end).
- Invoice types (`RatingInput.invoice_type`, Metronome's USAGE / SCHEDULED): scheduled charges
  and PREPAID commit purchases go on SCHEDULED invoices of their own, one per contract and date,
  whose period is that instant (`scheduled_period`); such an invoice has only those lines. The
  USAGE invoice then has everything else (usage, subscriptions, composites, applications,
  conversions, true-ups), and the scheduled items too only when the contract asks for
  `scheduled_charges_on_usage_invoices` ("ALL"). One engine, one pipeline: `steps_for` picks
  the steps whose lines belong to the invoice. A composite therefore counts a scheduled charge
  only when it is on the same (usage) invoice.
- COMPOSITE (Metronome's composite charges guide, guides/pricing-packaging/billing-model-guides/
  composite-charges): a percentage of the sum of the ROUNDED totals of the invoice's
  non-composite lines whose product id or tags it names (so a customer can check it against the
  lines printed above it); composite lines never count towards another composite. One charge per
  composite rate overlapping the period, over the lines that start inside that rate's window:
  PERCENTAGE one line; TIERED_PERCENTAGE graduated over the period's spend, one line per tier;
  an optional `composite_minimum` per billing period ("the greater of" the percentage and the
  minimum: a "(minimum)" line makes up the difference, prorated over a part period); scope
  CUSTOMER counts the customer's other contracts' charges of that time too (`customer_spend`,
  read by the selector, which bills such a rate on one contract only). No spend and no minimum,
  no line.

Contract terms (issue 6), each a step of the same pipeline:

- Overrides (`apply_overrides`, the PREPARE step) rewrite the rates of the products and pricing
  group values they target into disjoint time windows, cut at every rate and override boundary;
  in each window the rate in effect (the latest-started entitled one; an override with
  `entitled` set switches entitlement) is priced by the winning override: OVERWRITE beats
  MULTIPLIER/TIERED; among multipliers LOWEST_MULTIPLIER (default) takes the lowest, EXPLICIT the
  lowest `priority`. A MULTIPLIER multiplies whichever list rate is in effect, so it follows later
  price changes; a TIERED override multiplies by quantity band of the period (graduated, like
  tiers). Targets, each field as the SDK documents it (`override_targets`): the top-level product
  id, or ANY of the top-level tags ("Usage that matches any of the listed product IDs and product
  tags", Metronome's targeting guide); else any override specifier whose every field matches
  ("Within each specifier all fields are ANDed together"): its product, ALL its `product_tags`
  ("products with all the specified tags"), its pricing group values (each pair on the rate), its
  presentation group values (each pair on the usage priced: "only apply to line items with the
  specified presentation group values"; such an override lays its rates out again for those
  values, `Rate.presentation_group_values`) and its billing frequency (subscription rates billed
  that often). Commit-specific overrides are left out here and price only the part of usage a
  named commit draws.
- The selector splits usage at `segment_boundaries(input, product_id)`: the product's rate
  boundaries plus `term_boundaries` (overrides that may target it, access segments of balances
  whose scope includes it). A usage record is priced by the rate at its start and drawn by a
  segment only when it lies wholly inside it.
- Commits and credits (`Balance`, with `AccessSegment`s carrying what is AVAILABLE to this
  invoice: the selector subtracts finalized draws, and `draw_order.in_turn` what the unfinalized
  invoices before it in the draw order draw): `commit_purchase_lines` (a
  PREPAID commit's invoice schedule items due in the period), `custom_unit_lines` (balances in a
  custom unit burn down the lines in that unit; the rest converts to fiat on one `cpu_conversion`
  line per unit and product), `balance_lines` (fiat balances), `postpaid_true_up_lines`.
  Burn-down (`allocate_balances`): segments in `burn_down_order` (rollover balances first:
  postpaid, prepaid, then credits, each by lower priority, fewer applicable products, earlier
  end; then every other balance: lower priority; credits before commits; fewer applicable
  products; earlier end; earlier start; contract-level before customer-level; ids) each draw,
  line by line in invoice order, what is left of each usage, subscription or cpu_conversion line
  of its unit and scope inside its window; never more than a line has left or the segment holds.
  Scheduled charges, commit purchases and true-ups are never drawn. Empty scope = every product.
  A balance with `specifiers` (`BalanceSpecifier`) draws only the lines meeting ANY of them, one
  met when ALL its given fields match (product, all its tags, pricing and presentation group
  values on the line); its scope for the order is the products some specifier may name.
  One negative `applied_commit_or_credit` line per segment drawn, with `balance_remaining`;
  `RatingResult.balance_draws` lists every segment overlapping the period (available, drawn,
  remaining, `expires` when it ends by the period's end and no later invoice in the draw order
  may still draw it: `AccessSegment.drawn_later`) for the ledger.
- COMMIT_RATE (and commit-specific overrides): on a line nothing has drawn yet, the part the
  commit covers is re-priced at the commit price on its own line (`commit_id` set) and drawn; the
  rest stays at list price on a new line. A line another balance already drew from is drawn at
  list price.
- POSTPAID: a postpaid commit draws like a prepaid one (so a later balance does not draw the same
  charge again), but its application lines are excluded from the total: the usage is still paid
  on this invoice. When its access ends in (period start, period end], a `postpaid_trueup` line
  charges the commitment minus `drawn_before` minus this invoice's draws, if positive.
- Custom pricing units: a rate with `credit_type_id` prices its lines in that unit (rounded to
  that unit's `decimal_places`, from `custom_units`); such lines carry the unit and stay out of
  the fiat subtotal and total, which count their `cpu_conversion` lines instead. Composites count
  fiat lines only.
- Conservation: total = fiat charges - prepaid and credit applications (postpaid applications are
  shown, not subtracted).

Lines come in a fixed order: usage (products in input order; then pricing group values, sorted; then
time, presentation group values and tier), subscriptions (input order), scheduled charges (by
timestamp), composites (products in input order), commit purchases, custom-unit applications,
cpu_conversion lines, fiat applications (in drawing order), true-ups.

The pipeline is `PREPARE_STEPS` (RatingInput -> RatingInput: where overrides will rewrite the rates)
followed by `LINE_STEPS` ((RatingInput, lines) -> lines: where commits, credits and custom-unit
conversion append their lines). Lines carry product ids, types and tags so that a later step can
decide which lines a commit applies to.
"""

from .balances import (  # noqa: F401
    application_lines,
    balance_draws,
    balance_lines,
    commit_purchase_lines,
    postpaid_true_up_lines,
    trued_up_here,
)
from .burn_down import (  # noqa: F401
    Allocation,
    allocate_balances,
    burn_down_order,
)
from .composites import (  # noqa: F401
    composite_lines,
)
from .custom_units import (  # noqa: F401
    custom_unit_lines,
)
from .discounts import (  # noqa: F401
    discount_lines,
)
from .draw_order import (  # noqa: F401
    expiring_here,
    in_turn,
    left_for_later,
    may_draw,
    postpaid_expiring_here,
    trued_up_segments,
    with_later_draws,
)
from .hierarchy import (  # noqa: F401
    add_taken,
    less_taken,
    parent_last,
    rate_in_order,
)
from .inputs import (  # noqa: F401
    AccessSegment,
    Balance,
    BalanceSpecifier,
    Conversion,
    CustomerSpend,
    Discount,
    InvoiceScheduleItem,
    Override,
    OverrideSpecifier,
    OverrideTier,
    OverwriteRate,
    Period,
    PricingUnit,
    Product,
    ProServiceItem,
    QuantityConversion,
    QuantityRounding,
    Rate,
    RatingInput,
    ScheduledCharge,
    Subscription,
    Tier,
    Usage,
)
from .outputs import (  # noqa: F401
    BalanceDraw,
    Line,
    LineTier,
    RatingResult,
)
from .overrides import (  # noqa: F401
    apply_overrides,
    override_may_target,
    override_targets,
    price_with_override,
    segment_boundaries,
    term_boundaries,
    winning_override,
)
from .pipeline import (  # noqa: F401
    LINE_STEPS,
    PREPARE_STEPS,
    SCHEDULED_INSTANT,
    SCHEDULED_ITEM_STEPS,
    LineStep,
    PrepareStep,
    rate_invoice,
    scheduled_period,
    steps_for,
    totals,
)
from .pro_services import (  # noqa: F401
    pro_service_lines,
)
from .shared import (  # noqa: F401
    balance_draws_line,
    balance_scope,
    latest_rate,
    microseconds,
    money_of,
    overlaps,
    product_type_of,
    rates_for_presentation,
    unit_of,
)
from .snapshots import (  # noqa: F401
    rating_input_from_json,
    to_json,
)
from .subscriptions import (  # noqa: F401
    scheduled_charge_lines,
    subscription_lines,
)
from .thresholds import (  # noqa: F401
    balance_excluded,
    discount_split,
    recharge_amount,
    spend_threshold_amount,
    threshold_unit_price,
)
from .usage import (  # noqa: F401
    TierPiece,
    billable_quantity,
    tier_pieces,
    usage_lines,
)
from .vocabulary import (  # noqa: F401
    BalanceAccessType,
    BalanceRateType,
    BalanceType,
    Checked,
    CollectionSchedule,
    CompositeScope,
    GroupValues,
    InvoiceType,
    LineType,
    MultiplierPrioritization,
    OverrideType,
    ProductType,
    RateType,
    checked_fields,
    field_types,
    group_values,
    strip_optional,
)
