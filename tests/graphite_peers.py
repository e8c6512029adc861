"""Real Graphite-side peers for the end-to-end tests: a capturing carbon line receiver, Debian's
carbon-cache, and Etsy statsd 0.9.0 (npm), each on loopback ports, stopped on exit.

Every wait is a bounded poll of a condition, never a fixed sleep.
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

ETSY_DIR = os.environ.get("MG_ETSY_STATSD", os.path.join(
    os.path.dirname(__file__), "..", ".cache", "etsy-statsd-0.9.0", "node_modules", "statsd"))
WAIT = 20.0


def free_port(host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port the kernel says is free now (for peers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(condition, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class LineSink:
    """A carbon plaintext receiver that keeps every line: [(name, value text, timestamp)]."""

    def __init__(self, host="127.0.0.1", listen=True):
        """With listen=False the port is held but refuses connections until start()."""
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((host, 0))
        self.address = f"{host}:{self.server.getsockname()[1]}"
        self.lines = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = False
        if listen:
            self.start()

    def start(self):
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        buffer = b""
        with conn:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                buffer += data
                *complete, buffer = buffer.split(b"\n")
                parsed = []
                for line in complete:
                    name, value, ts = line.decode().split(" ")
                    parsed.append((name, value, int(ts)))
                with self._lock:
                    self.lines.extend(parsed)

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def flushes(self):
        """{timestamp: {name: value text}}; a name twice in one flush is an error."""
        out = {}
        for name, value, ts in self.snapshot():
            flush = out.setdefault(ts, {})
            assert name not in flush, f"{name} twice in the flush at {ts}"
            flush[name] = value
        return out

    def close(self):
        self._stop = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone
        except OSError:                             # would leave it listening
            pass
        self.server.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EtsyStatsd:
    """Etsy statsd 0.9.0 (node) on a loopback UDP port, writing to `graphite_address`."""

    def __init__(self, graphite_address, flush_ms, extra=""):
        assert os.path.exists(os.path.join(ETSY_DIR, "stats.js")), \
            f"Etsy statsd not installed in {ETSY_DIR} (scripts/install-deps.sh --test does it)"
        host, port = graphite_address.rsplit(":", 1)
        self.port = free_port(kind=socket.SOCK_DGRAM)
        self.dir = tempfile.TemporaryDirectory()
        config = os.path.join(self.dir.name, "config.js")
        with open(config, "w") as f:
            f.write(f"""{{
  port: {self.port}, address: "127.0.0.1",
  mgmt_address: "127.0.0.1", mgmt_port: {free_port()},
  graphiteHost: "{host}", graphitePort: {port},
  flushInterval: {flush_ms},
  automaticConfigReload: false,
  {extra}
}}""")
        self.proc = subprocess.Popen(["node", os.path.join(ETSY_DIR, "stats.js"), config],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, cwd=ETSY_DIR)
        self.output = []
        self._up = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self._up.wait(WAIT), "Etsy statsd did not start:\n" + "\n".join(self.output)

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line.rstrip())
            if "server is up" in line:
                self._up.set()

    def send(self, payload):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(payload.encode(), ("127.0.0.1", self.port))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(timeout=WAIT)
        self.dir.cleanup()


class CarbonCache:
    """Debian's carbon-cache in the foreground, with its own config, ports and whisper files
    in a temporary directory: one-second points kept for an hour, no create or update limit."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        root = self.dir.name
        self.data = os.path.join(root, "whisper")
        self.line_port = free_port()
        self.pickle_port = free_port()
        self.query_port = free_port()
        os.makedirs(self.data)
        with open(os.path.join(root, "storage-schemas.conf"), "w") as f:
            f.write("[all]\npattern = .*\nretentions = 1s:1h\n")
        with open(os.path.join(root, "storage-aggregation.conf"), "w") as f:
            f.write("[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n")
        self.conf = os.path.join(root, "carbon.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[cache]
STORAGE_DIR = {root}/
LOCAL_DATA_DIR = {self.data}/
CONF_DIR = {root}/
LOG_DIR = {root}/log/
PID_DIR = {root}/
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = inf
CARBON_METRIC_INTERVAL = 0
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.line_port}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {self.pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {self.query_port}
ENABLE_UDP_LISTENER = False
LOG_LISTENER_CONNECTIONS = False
WHISPER_AUTOFLUSH = True
""")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["carbon-cache", f"--config={self.conf}", f"--pidfile={self.dir.name}/carbon.pid",
             f"--logdir={self.dir.name}/log", "--nodaemon", "start"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            assert self.proc.poll() is None, "carbon-cache exited; see " + self.dir.name
            try:
                socket.create_connection(("127.0.0.1", self.line_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.pickle_port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, "carbon-cache to listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=WAIT)
        self.proc = None

    def fetch(self, name, since, until):
        """{timestamp: value} in [since, until] of the metric's whisper file, empty if it does not
        exist yet (or carbon is still writing its header). A tagged name (`name;k=v`) is found
        where carbon 1.1 stores it: under _tagged/, by the SHA-256 of the name
        (TAG_HASH_FILENAMES)."""
        import hashlib
        import whisper
        if ";" in name:
            digest = hashlib.sha256(name.encode()).hexdigest()
            path = os.path.join(self.data, "_tagged", digest[:3], digest[3:6], digest + ".wsp")
        else:
            path = os.path.join(self.data, *name.split(".")) + ".wsp"
        if not os.path.exists(path):
            return {}
        # whisper.fetch starts at the first step after its `fromTime`.
        try:
            (start, _, step), values = whisper.fetch(path, since - 1, until + 1)
        except whisper.CorruptWhisperFile:
            # carbon-cache creates the file and then writes its header: a read in between finds
            # it short. Not there yet, as for a missing file; one that stays short never shows
            # the values a caller waits for.
            return {}
        return {start + i * step: v for i, v in enumerate(values) if v is not None}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        self.dir.cleanup()
