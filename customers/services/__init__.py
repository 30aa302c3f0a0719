"""Writes for customers, ingest aliases, contracts and their terms, one module per concern:
`customer`, `terms` (term specs and adding them), `contracts` (create, renew, end, archive, v2
edit), `transitions` (transitions and rollover), `packages` (contracts from packages), `balances`
(customer-level commits and credits, the ledger), `events` (what customers records in the outbox).

Every write runs the models' full_clean(), so the API and the admin apply the same rules in the
same words. Errors are Django ValidationErrors keyed by model field name (nested terms are keyed
`commits[0].product`); the API layer renames them to the wire's names. Invoicing, above, hears what
changed through the outbox (`core.outbox`): customers never imports it."""

from .amendments import (  # noqa: F401
    contract_amend,
    contract_usage_filter_set,
)
from .balance_edits import (  # noqa: F401
    UNCHANGED,
    BalanceUpdate,
    ScheduleChanges,
    ScheduledChargeUpdate,
    balance_edit,
    balance_update_end_date,
)
from .balances import (  # noqa: F401
    LEDGER,
    BalanceKeyInUse,
    balance_ledger_draw_entries,
    balance_ledger_entries_write,
    balance_ledger_invoice_voided,
    balance_ledger_record_draws,
    balance_manual_entry_add,
    customer_commit_create,
    customer_credit_create,
)
from .billing import (  # noqa: F401
    billing_configuration_create,
    billing_configuration_replace,
    billing_configurations_archive,
    billing_configurations_archive_provider,
)
from .charges import (  # noqa: F401
    ProServiceBilling,
    pro_services_bill,
    threshold_commit_create,
)
from .common import (  # noqa: F401
    IngestAliasInUse,
    clean,
    prefixed,
)
from .configurations import (  # noqa: F401
    ConfigurationChangeSpec,
    revenue_system_configuration_create,
)
from .contracts import (  # noqa: F401
    EditResult,
    balance_drafts_refresh,
    contract_archive,
    contract_billed_through_set,
    contract_create,
    contract_drafts_refresh,
    contract_edit,
    contract_open,
    contract_renew,
    contract_update_end_date,
    contracts_billed_through_extend,
    end_before_successor,
)
from .customer import (  # noqa: F401
    customer_archive,
    customer_create,
    customer_custom_fields_delete,
    customer_custom_fields_set,
    customer_set_ingest_aliases,
    customer_set_name,
)
from .events import (  # noqa: F401
    balance_event,
    contract_event,
)
from .gates import (  # noqa: F401
    MANUAL_GATE,
    GateSpec,
    PaymentGateConflict,
    payment_gate_cancel,
    payment_gate_event,
    payment_gate_invoiced,
    payment_gate_pending,
    payment_gate_release,
    payment_gate_retry_at,
)
from .hierarchy import (  # noqa: F401
    HierarchySpec,
    contract_hierarchy_apply,
)
from .packages import (  # noqa: F401
    add_offset,
    contract_create_from_package,
    package_terms_at,
)
from .recurring import (  # noqa: F401
    SubscriptionUpdate,
    quantity_at,
    recurring_balances_materialize,
    recurring_balances_materialize_all,
    subscription_update,
)
from .schedules import (  # noqa: F401
    customer_update_config,
    named_schedule_update,
)
from .spend_trackers import (  # noqa: F401
    SpendTrackerSpec,
    spend_tracker_caps_check,
    spend_trackers_add,
    spend_trackers_archive,
)
from .term_edits import (  # noqa: F401
    DiscountUpdate,
    RecurringUpdate,
    recurring_balance_follow,
)
from .terms import (  # noqa: F401
    AddedTerms,
    CommitSpec,
    CreditSpec,
    DiscountSpec,
    InvoiceItemSpec,
    OverrideSpec,
    ProfessionalServiceSpec,
    RecurringScheduleSpec,
    RecurringSpec,
    ScheduledChargeSpec,
    SegmentSpec,
    SubscriptionSpec,
    add_balance,
    add_commit,
    add_terms,
    dot,
    proration_rounding_spec,
    quantity_balance_check,
    usage_filter_add,
)
from .transitions import (  # noqa: F401
    DraftDraws,
    TransitionSpec,
    billed_after,
    contract_transition_roll_over,
    contract_transitions_roll_over_due,
    transition_make,
    transition_source,
)
