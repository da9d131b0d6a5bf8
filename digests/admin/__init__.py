from digests.admin import content  # noqa: F401  (registers the editorial admin)
from digests.admin import feedback  # noqa: F401  (delivery events, statistics pages)
from digests.admin import readers  # noqa: F401  (registers the subscriber admin)
