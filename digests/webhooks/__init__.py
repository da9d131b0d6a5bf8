"""Outgoing webhooks: events recorded with the change that caused them, delivered signed after commit.

``event_emit`` is called by the stages at their state changes; it writes an
event row in the caller's transaction and hands delivery to Celery once that
transaction commits, so a rolled-back change never announces itself and a
slow endpoint never holds up a send.
"""
