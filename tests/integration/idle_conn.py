"""idle_conn.py - raw Kafka-protocol connections for the broker's
connections.max.idle.ms tests (broker_sasl.sh, broker_ssl.sh): requests
framed by hand, and a check that the broker closes a quiet connection after
about the limit (the tests set 1000 ms)."""
import socket
import ssl
import struct
import sys
import time


def frame(key, ver, corr, body=b""):
    """A request: size, api key, version, correlation id, client id 'test', body."""
    msg = struct.pack(">hhih", key, ver, corr, 4) + b"test" + body
    return struct.pack(">i", len(msg)) + msg


def call(s, key, ver, corr, body=b""):
    """Sends a request and returns its response's body (after the correlation id)."""
    s.sendall(frame(key, ver, corr, body))
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("FAIL: connection closed while waiting for the answer to key %d" % key)
        buf += chunk
    return buf[8:]


def closed(s, what, tag, since=None):
    """The broker closes s about 1 s after it went quiet (since, or now); prints
    s's local port and tag (what the test's shell side reads for the broker's
    log line)."""
    t0 = since or time.monotonic()
    s.settimeout(6)
    try:
        data = s.recv(1)
    except socket.timeout:
        sys.exit("FAIL: %s: still open after 6 s (connections.max.idle.ms=1000)" % what)
    except (ConnectionResetError, ssl.SSLError):
        data = b""
    dt = time.monotonic() - t0
    if data or dt < 0.8:
        sys.exit("FAIL: %s: %r after %.2f s, expected EOF after about 1 s" % (what, data, dt))
    print("ok: %s: closed by the broker after %.1f s" % (what, dt), file=sys.stderr)
    print("%d %s" % (s.getsockname()[1], tag))
