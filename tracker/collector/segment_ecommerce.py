"""Segment's e-commerce spec events as tracker events (docs/segment.md#e-commerce-events).

A ``track`` call is an interaction named after its event, except the spec events
below, which say more: an order, a page view of a known touchpoint, or an
interaction with an action the tracker's funnel and labels already know. Only the
fields the contract uses are kept: an order's products become an item count and,
without ``revenue`` or ``total``, the revenue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tracker.core.bounds import REVENUE_DECIMALS

DEFAULT_CURRENCY = "USD"  # Segment's spec: revenue without a currency is in US dollars
_PLACES = Decimal(1).scaleb(-REVENUE_DECIMALS)


@dataclass(frozen=True, slots=True)
class SpecEvent:
    event_type: str  # page_view, interaction or order
    touchpoint: str | None  # None: by the page rule, from the call's context
    action: str | None = None


SPEC_EVENTS: dict[str, SpecEvent] = {
    "order completed": SpecEvent("order", "checkout"),
    "product added": SpecEvent("interaction", "product", "add_to_cart"),
    "product removed": SpecEvent("interaction", "cart", "remove_from_cart"),
    "checkout started": SpecEvent("interaction", "checkout", "checkout_started"),
    "checkout step viewed": SpecEvent("page_view", "checkout"),
    "checkout step completed": SpecEvent("interaction", "checkout", "checkout_step"),
    "payment info entered": SpecEvent("interaction", "payment", "payment_info"),
    "products searched": SpecEvent("interaction", "search", "search"),
    "product list viewed": SpecEvent("page_view", "category"),
    "product list filtered": SpecEvent("interaction", "category", "filter"),
    "product viewed": SpecEvent("page_view", "product"),
    "product clicked": SpecEvent("interaction", None, "click"),
    "product added to wishlist": SpecEvent("interaction", "product", "wishlist_add"),
    "product shared": SpecEvent("interaction", "product", "share"),
    "cart shared": SpecEvent("interaction", "cart", "share"),
    "product reviewed": SpecEvent("interaction", "product", "review"),
    "cart viewed": SpecEvent("page_view", "cart"),
    "promotion clicked": SpecEvent("interaction", None, "click"),
    "signed up": SpecEvent("interaction", "account", "signup"),
    "signed in": SpecEvent("interaction", "account", "login"),
}


def spec_event(name: str) -> SpecEvent | None:
    """The spec event ``name`` is (matched case-insensitively), or None."""
    return SPEC_EVENTS.get(name.strip().lower())


def decimal_of(value: Any) -> Decimal | None:
    """A JSON number or numeric string as a Decimal; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        # repr of a float is its shortest round-trip text: 19.99 stays 19.99.
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def order_fields(properties: dict[str, Any], message_id: str) -> dict[str, Any]:
    """order_id, revenue and currency of an Order Completed, and its item count.

    Revenue is ``revenue``, else ``total``, else the sum of the products' price times
    quantity, rounded to the contract's decimals. What is missing or not a number is
    left out, and the contract's validation then names the field.
    """
    products = properties.get("products")
    products = [p for p in products if isinstance(p, dict)] if isinstance(products, list) else []
    revenue = decimal_of(properties.get("revenue"))
    if revenue is None:
        revenue = decimal_of(properties.get("total"))
    if revenue is None and products:
        revenue = _products_sum(products)
    order_id = properties.get("order_id", properties.get("orderId"))
    fields: dict[str, Any] = {
        "order_id": str(order_id) if isinstance(order_id, str | int) else message_id,
        "currency": str(properties.get("currency") or DEFAULT_CURRENCY).upper(),
    }
    if revenue is not None:
        fields["revenue"] = _plain(revenue)
    if products:
        fields["properties"] = {"items": sum(_quantity(p) for p in products)}
    return fields


def _plain(amount: Decimal) -> str:
    """Fixed-point text at the contract's decimals (no exponent: 1E+2 is not a revenue)."""
    try:
        return f"{amount.quantize(_PLACES):f}"
    except InvalidOperation:  # too many digits to quantize: the contract rejects it anyway
        return f"{amount:f}"


def _quantity(product: dict[str, Any]) -> int:
    quantity = decimal_of(product.get("quantity"))
    return int(quantity) if quantity is not None and quantity > 0 else 1


def _products_sum(products: list[dict[str, Any]]) -> Decimal | None:
    total = Decimal(0)
    for product in products:
        price = decimal_of(product.get("price"))
        if price is None:
            return None
        total += price * _quantity(product)
    return total
