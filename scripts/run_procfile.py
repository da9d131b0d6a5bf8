"""``make run``'s process manager: honcho, given the time a Celery worker needs to stop warm.

On Ctrl-C honcho sends SIGTERM to every process and SIGKILLs whatever still
runs 5 seconds later. A Celery worker on the file-system broker needs about
that long for a warm shutdown even when idle (its consumer polls the broker
every 2 s, then it stops its pool), and longer while it finishes a task; a
SIGKILL then would abandon the task half-done. So the wait here is 30 s: a
worker that has not stopped by then is stuck, and is killed as before.
"""

import sys

import honcho.manager
from honcho.command import main

STOP_WAIT_SECONDS = 30

if __name__ == "__main__":
    honcho.manager.KILL_WAIT = STOP_WAIT_SECONDS
    sys.exit(main())
