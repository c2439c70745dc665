"""Orders and revenue: exact decimals, allowed currencies, de-duplication.

See docs/metrics.md#orders-and-revenue.
"""

from __future__ import annotations

from tests.unit.helpers import Harness, ev

# --- money ---------------------------------------------------------------------------------


def test_revenue_is_summed_exactly_as_decimal() -> None:
    h = Harness()
    h.send(*[ev("order", "ana", i, revenue=0.1) for i in range(3)])
    h.send(ev("order", "bob", 0, revenue="0.20"), ev("order", "bob", 1, revenue="1e-2"))
    from decimal import Decimal

    assert h.p.aggregates.revenue == {"EUR": Decimal("0.51")}
    assert h.total("tracker_revenue_total", currency="EUR") == 0.51


def test_currencies_outside_the_list_are_other() -> None:
    h = Harness()
    h.send(
        ev("order", "ana", 0, revenue="100", currency="JPY"),
        ev("order", "ana", 1, revenue="5", currency="CHF"),
    )
    assert h.total("tracker_revenue_total", currency="other") == 100
    assert h.total("tracker_revenue_total", currency="CHF") == 5
    assert h.total("tracker_revenue_total", currency="JPY") == 0


def test_orders_are_deduplicated_by_event_id_only() -> None:
    h = Harness()
    h.send(
        ev("order", "ana", 0, order_id="o-1", revenue="10"),
        ev("order", "ana", 1, order_id="o-1", revenue="10"),
    )
    assert h.total("tracker_orders_total") == 2
    assert h.total("tracker_revenue_total", currency="EUR") == 20
