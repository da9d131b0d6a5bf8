from digests.models import lookups  # noqa: F401  (registers pk__any)
from digests.models.automation import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from digests.models.content import Category, Digest, Item
from digests.models.delivery import Delivery, DeliveryClaim, DeliveryCount, DeliveryEvent
from digests.models.readers import Consent, FrequencyChange, Subscriber, SubscriberImport, Suppression, TransactionalEmail
from digests.models.staff import StaffPreference

__all__ = [
    "ApiKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Category",
    "Consent",
    "Delivery",
    "DeliveryClaim",
    "DeliveryCount",
    "DeliveryEvent",
    "Digest",
    "FrequencyChange",
    "Item",
    "StaffPreference",
    "Subscriber",
    "SubscriberImport",
    "Suppression",
    "TransactionalEmail",
]
