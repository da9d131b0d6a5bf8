from digests.models.automation import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from digests.models.content import Category, Digest, Item
from digests.models.delivery import Delivery, DeliveryEvent
from digests.models.readers import Consent, Subscriber, Suppression

__all__ = [
    "ApiKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Category",
    "Consent",
    "Delivery",
    "DeliveryEvent",
    "Digest",
    "Item",
    "Subscriber",
    "Suppression",
]
