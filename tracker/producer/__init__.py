"""``tracker.producer``: send contract events from a backend, typed and confirmed.

    from tracker.producer import TrackerProducer, new_event

    order = new_event("order", customer_id="c-17", channel="store", touchpoint="checkout",
                      consent={"analytics": True, "marketing": False},
                      order_id="o-981", revenue="42.50", currency="EUR")
    async with TrackerProducer(settings, "kafka-1:9092") as producer:
        await producer.send(order)

See README, "Sending events".
"""

from tracker.producer.client import Delivery, DeliveryError, TrackerProducer, encode
from tracker.producer.events import (
    Consent,
    ConsentChange,
    Event,
    Feedback,
    Identify,
    Interaction,
    Order,
    PagePing,
    PageView,
    new_event,
)

__all__ = [
    "Consent",
    "ConsentChange",
    "Delivery",
    "DeliveryError",
    "Event",
    "Feedback",
    "Identify",
    "Interaction",
    "Order",
    "PagePing",
    "PageView",
    "TrackerProducer",
    "encode",
    "new_event",
]
