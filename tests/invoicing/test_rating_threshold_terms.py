"""Threshold billing's further arithmetic, pure: what a bought commit costs on its invoice (a
custom unit's fiat worth, a discount's payment fraction) and which balances an auto-recharge
leaves out (threshold balance specifiers, by custom fields)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from invoicing.rating import balance_excluded, threshold_unit_price

D = Decimal
PROMO = {"entity": "ContractCreditOrCommit", "key": "kind", "value": "promo"}


def test_a_commit_in_the_invoices_unit_without_a_discount_is_invoiced_at_its_amount():
    assert threshold_unit_price() is None


def test_a_discount_charges_its_payment_fraction_of_each_unit():
    # Recharging 100 at 0.8 costs 80.00: 100 units at 0.8.
    assert threshold_unit_price(payment_fraction=D("0.8")) == D("0.8")
    assert D(100) * threshold_unit_price(payment_fraction=D("0.8")) == D("80.0")


def test_a_custom_unit_is_invoiced_at_the_cards_conversion_times_the_fraction():
    assert threshold_unit_price(fiat_per_custom=D(40)) == D(40)
    # 50 cloud credits worth 40 cents each, half paid: 50 x 20 = 1000 cents.
    assert threshold_unit_price(payment_fraction=D("0.5"), fiat_per_custom=D(40)) == D(20)


@given(
    amount=st.integers(min_value=0, max_value=10**9).map(D),
    fraction=st.integers(min_value=0, max_value=100).map(lambda n: D(n) / 100),
    rate=st.sampled_from(["0.01", "1", "40", "2.5"]).map(D),
)
def test_what_is_invoiced_is_the_amount_at_its_worth_times_the_fraction(amount, fraction, rate):
    price = threshold_unit_price(payment_fraction=fraction, fiat_per_custom=rate)
    assert amount * price == amount * rate * fraction
    assert amount * price <= amount * rate


def test_an_exclude_leaves_out_balances_with_all_its_custom_fields():
    both = [
        {
            "exclude": [
                {
                    "custom_field_filters": [
                        PROMO,
                        {"entity": "Commit", "key": "team", "value": "ml"},
                    ]
                }
            ]
        }
    ]
    promo_ml = {"kind": "promo", "team": "ml"}
    assert balance_excluded(both, is_credit=False, custom_fields=promo_ml)
    assert not balance_excluded(both, is_credit=False, custom_fields={"kind": "promo"})
    # The second filter names commits only: a credit never meets it.
    assert not balance_excluded(both, is_credit=True, custom_fields=promo_ml)


def test_any_exclude_met_leaves_the_balance_out():
    either = [
        {"exclude": [{"custom_field_filters": [PROMO]}]},
        {
            "exclude": [
                {"custom_field_filters": [{"entity": "ContractCredit", "key": "k", "value": "v"}]}
            ]
        },
    ]
    assert balance_excluded(either, is_credit=False, custom_fields={"kind": "promo"})
    assert balance_excluded(either, is_credit=True, custom_fields={"k": "v"})
    assert not balance_excluded(either, is_credit=False, custom_fields={"k": "v"})
    assert not balance_excluded([], is_credit=False, custom_fields={"kind": "promo"})
