"""The REST API under /api/v1/: thin views over the same services as the admin and the commands."""
