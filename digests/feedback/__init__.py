"""Feedback: provider webhooks, first-party click/open tracking, suppression rules, statistics and charts."""
