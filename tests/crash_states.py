#!/usr/bin/env python3
"""Crash states of the real server: what a power loss can leave on the disk,
built from a recorded run and handed to the real binary to start on.

The server runs under strace while clients write; every file-system call it
makes (directories created, the journal's writes, truncations, fdatasyncs,
directory fsyncs) and every reply it sends is recorded in order. At chosen
moments of that record the script builds the disk states a power loss could
leave there, as storage-testing tools do:

  prefix     the unsynced writes reach the disk in order, the last one cut at
             a 512-byte sector boundary (or whole)
  pages      the unsynced 4 KiB pages reach the disk in any order, each whole
             or not at all (zeros), the file's size reaching the disk or not
  sectors    the same with 512-byte sectors (a disk without atomic page writes)
  directory  a directory entry never synced in its parent is gone (the data
             directory, or the journal in it)

and starts the server on each. Every state must start, serve every write the
server had acknowledged by then exactly once (LIST_TRANSACTIONS), with a
balance equal to the sum of the list. A bit flipped in a synced record must
still be refused, naming the offset.

  crash_states.py --server PATH [--writes N] [--clients N] [--max-states N] [--seed S]

Exit status: 0 every state passed; 1 a state failed (each is described, with
its directory kept under --keep DIR when given); 2 a usage error; 77 strace
cannot trace here (no ptrace), which ctest shows as skipped."""

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SECTOR = 512
PAGE = 4096
JOURNAL = "bank.journal"
START_TIMEOUT_S = 20
TRACED_CALLS = "mkdir,mkdirat,openat,pwrite64,write,writev,fdatasync,fsync,ftruncate,sendto,sendmsg"

HEX = re.compile(rb"\\x([0-9a-f]{2})")


def unhex(text):
    return HEX.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode() if isinstance(text, str) else text)


STRING = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
FD = re.compile(r"^(\d+)<((?:\\x[0-9a-f]{2})*)>")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|\?)")


def read_trace(path):
    """The calls of a strace -f -y -xx log, in order: (position, name, args, result). A call
    split across threads (unfinished ... resumed) takes the position of its end; a send, of its start."""
    pending = {}
    calls = []
    with open(path, errors="replace") as lines:
        for index, line in enumerate(lines):
            pid, _, rest = line.rstrip("\n").partition(" ")
            rest = rest.lstrip()
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (index, rest[: -len("<unfinished ...>")].rstrip())
                continue
            start = index
            if rest.startswith("<..."):
                began, head = pending.pop(pid, (index, ""))
                rest = head + rest[rest.index("resumed>") + len("resumed>"):]
                start = began
            match = CALL.match(rest)
            if not match or match.group(3) == "?" or int(match.group(3)) < 0:
                continue
            name, args, result = match.group(1), match.group(2), int(match.group(3))
            position = start if name in ("sendto", "sendmsg", "writev", "write") else index
            calls.append((position, index, name, args, result))
    calls.sort(key=lambda c: (c[0], c[1]))
    return [(name, args, result) for _, _, name, args, result in calls]


class Recording:
    """What the trace says happened, as events: ('mkdir', path), ('create', path),
    ('dirsync', path), ('write', offset, bytes), ('truncate', size), ('sync',), ('ack', line)."""

    def __init__(self, trace_path, cwd, data_dir):
        self.events = []
        journal = os.path.join(data_dir, JOURNAL)
        known = set()
        streams = {}
        for name, args, result in read_trace(trace_path):
            fd = FD.match(args)
            fd_path = unhex(fd.group(2)).decode(errors="replace") if fd else ""
            strings = [unhex(s) for s in STRING.findall(args)]
            if name in ("mkdir", "mkdirat"):
                path = strings[0].decode()
                self.events.append(("mkdir", os.path.normpath(os.path.join(cwd, path))))
            elif name == "openat" and "O_CREAT" in args:
                path = os.path.normpath(os.path.join(cwd, strings[0].decode()))
                if path not in known:
                    known.add(path)
                    self.events.append(("create", path))
            elif name == "fsync" and fd:
                self.events.append(("dirsync", fd_path))
            elif fd_path == journal and name == "pwrite64":
                offset = int(args.rsplit(",", 1)[1])
                self.events.append(("write", offset, strings[0][:result]))
            elif fd_path == journal and name == "ftruncate":
                self.events.append(("truncate", int(args.rsplit(",", 1)[1])))
            elif fd_path == journal and name == "fdatasync":
                self.events.append(("sync",))
            elif fd_path.startswith("socket:") and name in ("sendto", "sendmsg", "writev", "write"):
                # A reply may leave in pieces: frames are cut from each socket's stream.
                stream = streams.get(fd_path, b"") + b"".join(strings)[:result]
                *frames, streams[fd_path] = stream.split(b"\0")
                for frame in frames:
                    if frame.startswith(b"id="):
                        self.events.append(("ack", frame.decode()))


def apply_write(image, offset, data):
    if len(image) < offset:
        image.extend(b"\0" * (offset - len(image)))
    image[offset:offset + len(data)] = data


class DiskAt:
    """The disk and the page cache at each moment of the recording, in turn."""

    def __init__(self, data_dir):
        self.durable = b""  # The journal as synced.
        self.cache = bytearray()
        self.unsynced = []  # ('write', offset, bytes) or ('truncate', size) since the last sync.
        self.acked = []
        self.dir_entry_durable = True  # Until the server creates the directory.
        self.file_entry_durable = True
        self.data_dir = data_dir
        self.parent = os.path.dirname(data_dir)
        self.journal = os.path.join(data_dir, JOURNAL)

    def apply(self, event):
        kind = event[0]
        if kind == "mkdir" and event[1] == self.data_dir:
            self.dir_entry_durable = False
        elif kind == "create" and event[1] == self.journal:
            self.file_entry_durable = False
        elif kind == "dirsync" and event[1] == self.parent:
            self.dir_entry_durable = True
        elif kind == "dirsync" and event[1] == self.data_dir:
            self.file_entry_durable = True
        elif kind == "write":
            apply_write(self.cache, event[1], event[2])
            self.unsynced.append(event)
        elif kind == "truncate":
            del self.cache[event[1]:]
            self.unsynced.append(event)
        elif kind == "sync":
            self.durable = bytes(self.cache)
            self.unsynced = []
        elif kind == "ack":
            self.acked.append(event[1])


def states_at(disk):
    """(kind, journal bytes or None for no file, data directory present) for one moment."""
    out = []
    durable, cache = disk.durable, bytes(disk.cache)
    if not disk.dir_entry_durable:
        out.append(("directory", None, False))
    if not disk.file_entry_durable:
        out.append(("directory", None, True))
    if not disk.unsynced:
        return out
    # Prefix: the writes in order, the last cut at each sector boundary inside it.
    image = bytearray(durable)
    for event in disk.unsynced:
        if event[0] == "truncate":
            del image[event[1]:]
            out.append(("prefix", bytes(image), True))
            continue
        _, offset, data = event
        cuts = [c - offset for c in range((offset // SECTOR + 1) * SECTOR, offset + len(data), SECTOR)]
        for cut in cuts[:3] + cuts[-2:]:
            torn = bytearray(image)
            apply_write(torn, offset, data[:cut])
            out.append(("prefix", bytes(torn), True))
        apply_write(image, offset, data)
        out.append(("prefix", bytes(image), True))
    # Out of order: pieces of the cache that differ from the disk, each whole or not.
    size = max(len(durable), len(cache))
    for kind, unit in (("pages", PAGE), ("sectors", SECTOR)):
        touched = set()
        for event in disk.unsynced:
            if event[0] == "write" and event[2]:
                touched.update(range(event[1] // unit, (event[1] + len(event[2]) - 1) // unit + 1))
        pieces = []
        for piece in sorted(touched):
            p = piece * unit
            if durable[p:p + unit].ljust(min(unit, size - p), b"\0") != cache[p:p + unit].ljust(min(unit, size - p), b"\0"):
                pieces.append(p)
        if not pieces:
            continue
        if len(pieces) <= 4:
            subsets = [[p for i, p in enumerate(pieces) if mask >> i & 1] for mask in range(1 << len(pieces))]
        else:
            subsets = [[p] for p in pieces[:6]] + [[q for q in pieces if q != p] for p in pieces[:6]]
            subsets += [pieces[k:] for k in range(1, min(len(pieces), 6))]
        for reached in subsets:
            image = bytearray(durable.ljust(size, b"\0"))
            for p in reached:
                image[p:p + unit] = cache[p:p + unit].ljust(min(unit, size - p), b"\0")
            full = bytes(image[:len(cache)]) if len(cache) >= len(durable) else bytes(image)
            out.append((kind, full, True))
            grown_to = max([len(durable)] + [min(p + unit, len(cache)) for p in reached])
            if grown_to < len(full):
                out.append((kind, full[:grown_to], True))
    return out


class Server:
    def __init__(self, binary, data_dir, log_path, trace=None):
        command = [binary, "--port", "0", "--addr", "127.0.0.1", "--data-dir", data_dir, "--log-level", "info"]
        if trace:
            command = ["strace", "-f", "-qq", "-y", "-xx", "-s", "1000000", "-e", "trace=" + TRACED_CALLS,
                       "-o", trace] + command
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        start_new_session=True)
        self.port = None
        line = self.process.stdout.readline()
        if line.startswith("listening on "):
            self.port = int(line.rsplit(":", 1)[1])

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def request(self, frame):
        self.sock.sendall(frame.encode() + b"\0")
        while b"\0" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        reply, _, self.buffer = self.buffer.partition(b"\0")
        return reply.decode()

    def close(self):
        self.sock.close()


def record(binary, scratch, writes, clients, rng):
    """Runs the server under strace while `clients` connections make `writes` writes; kills it."""
    os.makedirs(os.path.join(scratch, "parent"))
    data_dir = os.path.join(scratch, "parent", "data")
    trace = os.path.join(scratch, "trace.log")
    server = Server(binary, data_dir, os.path.join(scratch, "recorded.log"), trace=trace)
    if server.port is None:
        server.kill()
        if "ptrace" in open(os.path.join(scratch, "recorded.log")).read() or \
                "PTRACE" in open(os.path.join(scratch, "recorded.log")).read():
            print("crash_states: strace cannot trace here (no ptrace); skipped", file=sys.stderr)
            sys.exit(77)
        sys.exit("crash_states: the traced server did not start:\n" + open(os.path.join(scratch, "recorded.log")).read())
    amounts = [[rng.randint(-5000, 90000) for _ in range(writes // clients)] for _ in range(clients)]

    def work(index):
        client = Client(server.port)
        made = []
        for n, cents in enumerate(amounts[index]):
            key = f"c{index}-{n}"
            if made and n % 7 == 3:
                assert client.request("VOID_TRANSACTION").startswith("Enter")
                client.request(f"{made.pop(0)} key={key}")
                continue
            assert client.request("CREATE_TRANSACTION").startswith("Enter")
            # Keys of varied lengths make records of varied lengths.
            reply = client.request(f"{cents / 100:.2f} key={key}{'k' * (n * 5 % 40)}")
            if reply.startswith("id="):
                made.append(reply.split()[0][3:])
        client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.kill()
    return Recording(trace, os.getcwd(), data_dir), data_dir


def check_state(binary, directory, acked, journal_bytes, dir_present):
    """Starts the server on a state; returns None or what went wrong."""
    data_dir = os.path.join(directory, "parent", "data")
    os.makedirs(os.path.dirname(data_dir))
    if dir_present:
        os.makedirs(data_dir)
        if journal_bytes is not None:
            with open(os.path.join(data_dir, JOURNAL), "wb") as journal:
                journal.write(journal_bytes)
    server = Server(binary, data_dir, os.path.join(directory, "server.log"))
    try:
        if server.port is None:
            server.process.wait(timeout=START_TIMEOUT_S)
            return f"the server did not start (exit {server.process.returncode}): " + \
                open(os.path.join(directory, "server.log")).read()[-600:]
        client = Client(server.port)
        listed = client.request("LIST_TRANSACTIONS")
        balance = client.request("GET_BALANCE")
        client.close()
    finally:
        server.kill()
    lines = listed.split("\n") if listed else []
    for i, line in enumerate(lines):
        if not line.startswith(f"id={i + 1} "):
            return f"line {i + 1} of the list is {line!r}"
    missing = [a for a in acked if lines.count(a) != 1]
    if missing:
        return f"{len(missing)} of {len(acked)} acknowledged writes not listed exactly once, first: {missing[0]}"
    total = sum(round(float(line.split("amount=$")[1].split()[0]) * 100) for line in lines)
    if balance != f"${total / 100:.2f}":
        return f"balance {balance} but the list sums to {total / 100:.2f}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the dst_demo_server binary")
    parser.add_argument("--writes", type=int, default=120, help="writes made while recording (default 120)")
    parser.add_argument("--clients", type=int, default=3, help="connections writing at once (default 3)")
    parser.add_argument("--max-states", type=int, default=800, help="most states started (default 800)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the amounts and the sample of states")
    parser.add_argument("--keep", help="keep the directories of failing states here")
    args = parser.parse_args()
    if shutil.which("strace") is None:
        parser.error("strace is not installed (apt-get install strace)")
    rng = random.Random(args.seed)
    scratch = tempfile.mkdtemp(prefix="crash_states_")
    try:
        started = time.monotonic()
        recording, data_dir = record(args.server, os.path.join(scratch, "recorded"), args.writes, args.clients, rng)
        events = recording.events
        syncs = sum(1 for e in events if e[0] == "sync")
        acks = sum(1 for e in events if e[0] == "ack")
        print(f"recorded: {len(events)} events, {syncs} fdatasyncs, {acks} acknowledged writes")
        if syncs < 10 or acks < args.writes // 2:
            sys.exit("crash_states: the recording holds too few syncs or acknowledgements to test anything")
        # Moments: before each event that changes the disk, and at the end.
        states = {}
        disk = DiskAt(data_dir)
        for moment, event in enumerate(events + [("end",)]):
            if event[0] in ("sync", "dirsync", "write", "truncate", "end"):
                for kind, journal_bytes, dir_present in states_at(disk):
                    digest = hashlib.sha256(journal_bytes or b"")
                    digest.update(repr((journal_bytes is None, dir_present, len(disk.acked))).encode())
                    states.setdefault(digest.hexdigest(),
                                      (kind, journal_bytes, dir_present, list(disk.acked), moment))
            if event[0] != "end":
                disk.apply(event)
        final = disk
        chosen = list(states.values())
        rng.shuffle(chosen)
        chosen.sort(key=lambda s: s[0] != "directory")  # The few directory states always run.
        chosen = chosen[: args.max_states]
        # A bit flipped in a synced record of the final journal: refused, naming the offset.
        rotten = []
        synced = bytes(final.durable).rstrip(b"\0")
        for _ in range(8):
            at = rng.randrange(len(synced) // 2, len(synced) - 40)
            damaged = bytearray(final.durable)
            damaged[at] ^= 1 << rng.randrange(8)
            rotten.append(bytes(damaged))
        counts = {}
        failures = []
        lock = threading.Lock()

        def run(index_state):
            index, (kind, journal_bytes, dir_present, acked, moment) = index_state
            directory = os.path.join(scratch, f"state{index}")
            problem = check_state(args.server, directory, acked, journal_bytes, dir_present)
            with lock:
                passed, total = counts.get(kind, (0, 0))
                counts[kind] = (passed + (problem is None), total + 1)
                if problem:
                    failures.append(f"{kind} state at event {moment}: {problem}")
                    if args.keep:
                        shutil.copytree(directory, os.path.join(args.keep, f"state{index}-{kind}"))
            shutil.rmtree(directory, ignore_errors=True)

        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            list(pool.map(run, enumerate(chosen)))
        refused = 0
        for index, damaged in enumerate(rotten):
            directory = os.path.join(scratch, f"rot{index}")
            problem = check_state(args.server, directory, final.acked, damaged, True)
            log = open(os.path.join(directory, "server.log")).read()
            if problem and "did not start (exit 1)" in problem and "is damaged at offset" in log:
                refused += 1
            else:
                failures.append(f"a bit flipped in a synced record was not refused: {problem or 'it started'}")
        print(f"states: {len(states)} distinct, {len(chosen)} started, in "
              f"{time.monotonic() - started:.1f} s")
        for kind in ("prefix", "pages", "sectors", "directory"):
            passed, total = counts.get(kind, (0, 0))
            print(f"  {kind:<10} {passed} of {total} started and served every acknowledged write")
        print(f"  rot        {refused} of {len(rotten)} bit flips in synced records refused, naming the offset")
        for failure in failures[:20]:
            print("FAILED: " + failure)
        passed = sum(p for p, _ in counts.values()) + refused
        print(f"{passed} passed, {len(failures)} failed")
        return 1 if failures else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
