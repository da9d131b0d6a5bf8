from digests.models.content import Category, Digest, Item
from digests.models.delivery import Delivery, DeliveryEvent
from digests.models.readers import Consent, Subscriber, Suppression, TransactionalEmail

__all__ = [
    "Category",
    "Consent",
    "Delivery",
    "DeliveryEvent",
    "Digest",
    "Item",
    "Subscriber",
    "Suppression",
    "TransactionalEmail",
]
