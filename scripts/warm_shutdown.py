"""Run a command so that a stop reaches only its main process: ``python scripts/warm_shutdown.py celery … worker``.

honcho (``make run``) stops a process by sending SIGTERM to its whole process
group. For a Celery worker that group holds the pool processes too: they die
at once ("Process 'ForkPoolWorker-1' … exited with 'signal 15 (SIGTERM)'",
logged as ERROR) and the main process, left to clean up after them, outlives
honcho's five seconds and is killed. Here the command runs in a session of
its own and only its main process gets the SIGTERM, so Celery shuts down warm:
it finishes the tasks in hand, stops its pool and exits.
"""

import signal
import subprocess
import sys


def main() -> int:
    child = subprocess.Popen(sys.argv[1:], start_new_session=True)

    def forward(signum, frame):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    returncode = child.wait()
    # A warm shutdown asked for by a signal is a clean stop, not a failure.
    return 0 if returncode in (-signal.SIGTERM, -signal.SIGINT) else returncode


if __name__ == "__main__":
    sys.exit(main())
