"""gunicorn settings for the survey app, read by scripts/docker-entrypoint.sh and
benchmarks/load_votes.py (`gunicorn --config gunicorn.conf.py ...`). The number
of worker processes is set where the server starts: the entrypoint takes it
from $GUNICORN_WORKERS, the load test from its --workers option."""

import gc
import os

# Threaded workers keep connections alive between requests. The default sync
# worker closes the connection after every answer and lingers until the client
# has closed its end, which costs a TCP handshake per request and holds the
# worker idle meanwhile.
worker_class = "gthread"
# Threads per process, by default after the database. On SQLite one: with more, the
# requests of a process contend for the interpreter lock over work done in the process
# (SQLite's included) and the slowest wait for it (p99 page latency doubled with two).
# On PostgreSQL four: a request spends much of its time waiting on the server, above
# all for the vote's commit to reach the disk (3 to 5 ms an fsync here), and a thread
# that waits releases the lock; with one, a worker idled through every wait, and the
# server's group commit had no concurrent commits to share a flush (load_votes.py,
# 20 s in one sitting: 103 votes/s against 51 with one thread).
_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
threads = int(os.environ.get("GUNICORN_THREADS", "4" if _POSTGRES else "1"))
# Seconds an idle connection stays open: an annotator reading a page for longer
# reconnects, which is cheap next to the reading.
keepalive = 5
# A listening socket per worker, between which the kernel spreads the
# connections: on a shared socket one worker accepted 31 of 32 kept-alive
# connections and served them alone while the other idled.
reuse_port = True
# Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are read by the app,
# which trusts the last CIL_TRUSTED_PROXIES hops of them (Werkzeug's ProxyFix);
# gunicorn acts on none of them itself. Under "*" it let any client mark its
# request as https.
forwarded_allow_ips = ""


# The app is loaded, and what its requests keep computed (survey_app/warmup.py), in
# the master before it forks the workers: once, not once per worker in its first
# requests, and shared copy-on-write. A code change needs a restart, not a HUP.
preload_app = True


def when_ready(server):
    from survey_app.warmup import warm

    warm(server.app.wsgi())


def post_worker_init(worker):
    """What the worker has imported and built by now lives as long as it does:
    frozen, it is no longer scanned by the collector's full passes, which
    otherwise stalled the worker for about 100 ms every few seconds under load."""
    gc.freeze()
