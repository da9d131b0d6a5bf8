"""A mail backend that writes each message as an .eml file into a folder.

The embedded default for laptops: open the files with any mail client, or read
them in tests with ``email.message_from_bytes``.
"""

import os
import threading
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def __init__(self, file_path=None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)
        self._lock = threading.Lock()

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            self.write(message.message().as_bytes(linesep="\r\n"))
            sent += 1
        return sent

    def write(self, raw: bytes) -> Path:
        """Store one raw RFC 5322 message; the name sorts by time and never collides."""
        name = f"{datetime.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
        temporary = self.folder / f".{name}.tmp"
        with self._lock:
            temporary.write_bytes(raw)
            # Rename last so a reader of the folder never sees half a message.
            os.replace(temporary, self.folder / name)
        return self.folder / name
