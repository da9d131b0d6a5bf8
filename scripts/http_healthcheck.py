"""Container health probe for the web service: GET /healthz on this container, exit 0 only on 200.

It sends the Host of SITE_URL (ALLOWED_HOSTS would refuse "127.0.0.1" in production)
and says the original request was https, as the reverse proxy would.
"""

import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

port = os.environ.get("PORT", "8000")
host = urlsplit(os.environ.get("SITE_URL", "http://127.0.0.1")).netloc or "127.0.0.1"
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host, "X-Forwarded-Proto": "https"})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.stdout.write(response.read().decode())
except urllib.error.HTTPError as exc:
    sys.stdout.write(exc.read().decode(errors="replace"))
    sys.exit(1)
except OSError as exc:
    sys.stdout.write(f"web not answering: {exc}\n")
    sys.exit(1)
