"""Revenue recognition (ASC 606 / IFRS 15) as an export: a daily revenue schedule per line of
the finalized invoices. `allocation` is pure (an amount split over days to the cent, exactly, in
integers); `sources` reads invoices, lines and daily usage; `schedule` says which days each line
(and each prepaid commit's breakage) belongs to; `export` writes CSV or JSON."""

from .allocation import allocate  # noqa: F401
from .schedule import CATEGORIES, RevenueRow, month_bounds, revenue_schedule  # noqa: F401
