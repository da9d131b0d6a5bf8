"""Delivery: schedule (dispatcher), ledger (snapshot, claim, record), messages, transport, throttle, retry."""
