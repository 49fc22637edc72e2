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
# One thread per process by default: with more, the requests of a process
# contend for the interpreter lock and the slowest ones wait for it (p99 page
# latency doubled with two); processes are the way to more concurrency.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
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


def post_worker_init(worker):
    """What the worker has imported and built by now lives as long as it does:
    frozen, it is no longer scanned by the collector's full passes, which
    otherwise stalled the worker for about 100 ms every few seconds under load."""
    gc.freeze()
