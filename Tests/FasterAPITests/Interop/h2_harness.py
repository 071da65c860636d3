"""The harness the HTTP/2 interop scripts share: start the demo, run named cases, print results.

A script builds a `Suite`, registers one function per case with `@suite.case(...)`, and calls
`suite.main()`. That parses `--demo PATH [--tls | --cleartext] [--only NAME ...] [--slow]`, starts
the demo binary on a free 127.0.0.1 port in a temporary working directory (so `--tls` writes its
development certificate there), waits until it accepts connections, runs every case in
registration order with a per-case timeout, and prints one JSON object per line:

    {"case": "get_json", "ok": true, "detail": "..."}

A suite made with `dual=True` runs twice by default, cleartext then TLS (one demo each), and names
a case that runs in both modes `name[h2c]` / `name[tls]`; `--tls` or `--cleartext` picks one mode.
Otherwise the mode is cleartext unless `--tls` is given.

The exit status is 0 iff every case passed. The demo is always stopped at the end (and it dies
with this process, through PR_SET_PDEATHSIG, should this process be killed). If a case leaves
the demo dead, that case fails with the demo's exit status and the demo is started again, so one
crash does not fail every later case.

A case function takes the `Target` (where the demo listens and how to reach it) and returns a
short detail string; it fails by raising `CaseFailure` (see `check`) or any other exception.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback


class CaseFailure(Exception):
    """A case's assertion failed; the message is the case's detail."""


def check(condition, message):
    """Fail the running case with `message` unless `condition` holds."""
    if not condition:
        raise CaseFailure(message)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent():
    # Runs in the child between fork and exec: ask the kernel to SIGKILL the demo when the
    # process that started it goes away, however that happens.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Demo:
    """One running fasterapi-demo process."""

    def __init__(self, binary, tls):
        self.binary = os.path.abspath(binary)
        self.tls = tls
        self.workdir = tempfile.mkdtemp(prefix="fasterapi-h2-")
        self.process = None
        self.port = None
        self.log_path = os.path.join(self.workdir, "demo.log")

    @property
    def cert_path(self):
        return os.path.join(self.workdir, ".fasterapi", "tls", "cert.pem")

    def start(self, wait_seconds=60):
        self.port = free_port()
        command = [self.binary, "--host", "127.0.0.1", "--port", str(self.port)]
        if self.tls:
            command.append("--tls")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            command, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"demo exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if not self.tls or os.path.exists(self.cert_path):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"demo did not listen on port {self.port} within {wait_seconds} s")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def terminate(self):
        """Send SIGTERM (graceful shutdown) to the demo."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """The demo's exit status, or None if it still runs after `timeout` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as log:
                return b"".join(log.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class Target:
    """How a case reaches the demo: address, TLS settings, and the sockets it opened."""

    def __init__(self, demo):
        self.demo = demo
        self.host = "127.0.0.1"
        self.sockets = []

    @property
    def port(self):
        return self.demo.port

    @property
    def tls(self):
        return self.demo.tls

    @property
    def cert(self):
        return self.demo.cert_path

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def authority(self):
        return f"localhost:{self.port}" if self.tls else f"127.0.0.1:{self.port}"

    @property
    def base_url(self):
        return f"{self.scheme}://{self.authority}"

    def ssl_context(self, alpn=("h2",)):
        context = ssl.create_default_context(cafile=self.cert)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context

    def connect(self, alpn=("h2",), timeout=5.0):
        """A connected socket: TCP, wrapped in TLS (verified against the dev cert) with --tls."""
        raw = socket.create_connection((self.host, self.port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = raw
        if self.tls:
            sock = self.ssl_context(alpn).wrap_socket(raw, server_hostname="localhost")
        self.sockets.append(sock)
        return sock

    def close_all(self):
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass
        self.sockets.clear()


class Case:
    def __init__(self, function, name, timeout, only, last, slow):
        self.function = function
        self.slow = slow  # runs only with --slow (takes minutes)
        self.name = name
        self.timeout = timeout
        self.only = only  # None, "tls" or "cleartext"
        self.last = last  # the case stops the server: run after all others


class Suite:
    def __init__(self, description, dual=False):
        self.description = description
        self.dual = dual  # run in both modes (cleartext and TLS) by default
        self.cases = []

    def case(self, name=None, timeout=8.0, only=None, last=False, slow=False):
        """Register a case function (decorator)."""

        def register(function):
            self.cases.append(Case(function, name or function.__name__, timeout, only, last, slow))
            return function

        return register

    def selected(self, tls, names, slow=False):
        chosen = []
        for case in self.cases:
            if case.only == "tls" and not tls or case.only == "cleartext" and tls:
                continue
            if names and case.name not in names or case.slow and not slow and not names:
                continue
            chosen.append(case)
        return [c for c in chosen if not c.last] + [c for c in chosen if c.last]

    def run_case(self, case, target):
        outcome = {}

        def body():
            try:
                outcome["detail"] = case.function(target) or ""
                outcome["ok"] = True
            except CaseFailure as failure:
                outcome["ok"], outcome["detail"] = False, str(failure)
            except Exception as error:  # noqa: BLE001 - any error fails the case, with its trace
                trace = traceback.format_exc(limit=4).strip().splitlines()
                outcome["ok"], outcome["detail"] = False, f"{type(error).__name__}: {error} | {trace[-3:]}"

        worker = threading.Thread(target=body, daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(case.timeout)
        if worker.is_alive():
            target.close_all()  # unblocks the case's socket reads
            worker.join(2)
            outcome = {"ok": False, "detail": f"timed out after {case.timeout} s"}
        target.close_all()
        outcome["seconds"] = round(time.monotonic() - started, 3)
        return outcome

    def main(self, argv=None):
        parser = argparse.ArgumentParser(description=self.description)
        parser.add_argument("--demo", required=True, help="path to the fasterapi-demo binary")
        parser.add_argument("--tls", action="store_true", help="serve over TLS (development certificate)")
        parser.add_argument("--cleartext", action="store_true", help="serve cleartext HTTP/1.1 + h2c")
        parser.add_argument("--only", nargs="*", help="run only these cases")
        parser.add_argument("--slow", action="store_true", help="also run the slow cases (minutes)")
        parser.add_argument("--list", action="store_true", help="list the cases and exit")
        args = parser.parse_args(argv)
        # A dual suite runs in both modes (cleartext, then TLS, one demo each) unless told one;
        # otherwise cleartext unless --tls.
        if self.dual and not (args.tls or args.cleartext):
            modes = [False, True]
        else:
            modes = [args.tls]
        names = set(args.only or [])
        if args.list:
            for tls in modes:
                for case in self.selected(tls, names, args.slow):
                    print(self.case_name(case, tls))
            return 0
        all_ok = True
        for tls in modes:
            all_ok = self.run_mode(args.demo, tls, self.selected(tls, names, args.slow)) and all_ok
        return 0 if all_ok else 1

    def case_name(self, case, tls):
        """In a dual suite, a case that runs in both modes is reported as name[h2c] or name[tls]."""
        if self.dual and case.only is None:
            return f"{case.name}[{'tls' if tls else 'h2c'}]"
        return case.name

    def run_mode(self, binary, tls, cases):
        demo = Demo(binary, tls)
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def interrupted(signum, frame):
            demo.cleanup()
            sys.exit(128 + signum)

        for sig in previous:
            signal.signal(sig, interrupted)
        all_ok = True
        try:
            demo.start()
            target = Target(demo)
            for case in cases:
                if not demo.alive():
                    demo.start()
                outcome = self.run_case(case, target)
                if not case.last and not demo.alive():
                    code = demo.process.returncode
                    outcome["ok"] = False
                    outcome["detail"] += f" | the demo died (exit {code}): {demo.log_tail(5)}"
                all_ok = all_ok and outcome["ok"]
                line = {"case": self.case_name(case, tls), "ok": outcome["ok"], "detail": outcome["detail"],
                        "seconds": outcome["seconds"]}
                print(json.dumps(line), flush=True)
        except Exception as error:  # noqa: BLE001 - a harness failure is reported like a case
            print(json.dumps({"case": f"harness[{'tls' if tls else 'h2c'}]", "ok": False,
                              "detail": f"{type(error).__name__}: {error}"}), flush=True)
            all_ok = False
        finally:
            demo.cleanup()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return all_ok
