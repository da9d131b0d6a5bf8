from digests.admin import content  # noqa: F401  (registers the editorial admin)
