"""What became of one delivery's provider call, as transports report it and the ledger records it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Code(enum.StrEnum):
    """One letter each, because the crash journal stores a batch's progress as a string of them."""

    SENT = "S"
    FAILED = "F"  # permanently refused: the reader gets nothing this time
    RETRY = "R"  # deferred for this recipient: back to pending with a later release
    OUTAGE = "O"  # the provider or the network is down: nothing was handed over


@dataclass
class Outcome:
    code: Code
    error: str = ""
    provider_message_id: str = ""
