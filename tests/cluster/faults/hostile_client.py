"""Hostile HTTP clients run in a pod (standard library only); one JSON line of counts at the end.

python hostile_client.py idle HOST PORT COUNT SECONDS
    holds COUNT idle connections (none sends a byte) for SECONDS, reopening each one the
    server closes; processes of 1000 connections each, within any open-file limit
python hostile_client.py oversize HOST PORT PATH CLIENTS ROUNDS BODY_BYTES
    CLIENTS at once, ROUNDS times, each streaming BODY_BYTES (chunked, then with the
    whole Content-Length) while reading: how many read their whole 413
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import selectors
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

PER_PROCESS = 1000
PIECE = b" " * 65536


def hold(host: str, port: int, count: int, seconds: float, out: multiprocessing.Queue) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    counts: Counter[str] = Counter()
    selector = selectors.DefaultSelector()

    def open_one() -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((host, port))
        selector.register(sock, selectors.EVENT_READ)
        counts["opened"] += 1

    for _ in range(count):
        open_one()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            try:
                data = sock.recv(4096)  # type: ignore[union-attr]
            except OSError as error:
                counts[f"error {error.errno}"] += 1
                data = b""
            if data.startswith(b"HTTP/1.1 "):
                counts[f"answered {data[9:12].decode()}"] += 1
            counts["closed by the server"] += 1
            selector.unregister(sock)
            sock.close()  # type: ignore[union-attr]
            open_one()
    counts["held at the end"] = len(selector.get_map())
    out.put(dict(counts))


def idle(host: str, port: int, count: int, seconds: float) -> dict[str, int]:
    out: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=hold, args=(host, port, min(PER_PROCESS, count - n),
                                                   seconds, out))
        for n in range(0, count, PER_PROCESS)
    ]  # fmt: skip
    for proc in procs:
        proc.start()
    total: Counter[str] = Counter()
    for _ in procs:
        total.update(out.get(timeout=seconds + 120))
    for proc in procs:
        proc.join()
    return dict(total)


def upload(host: str, port: int, path: str, body_bytes: int, chunked: bool) -> str:
    """What the client saw: '413' when it read the whole answer, else what went wrong."""
    sock = socket.create_connection((host, port), timeout=60)
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % body_bytes
    head = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s\r\n\r\n"
    answer, error = b"", ""
    try:
        sock.sendall(head % (path.encode(), host.encode(), framing))
        sent = 0
        while sent < body_bytes:
            piece = PIECE[: body_bytes - sent]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError as failed:
        error = f"write: {failed.strerror}"
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError as failed:
        error = error or f"read: {failed.strerror}"
    finally:
        sock.close()
    head_part, _, body = answer.partition(b"\r\n\r\n")
    if not head_part.startswith(b"HTTP/1.1 413"):
        return error or f"answer {head_part[:12]!r}"
    length = next(int(line.split(b":")[1]) for line in head_part.lower().split(b"\r\n")
                  if line.startswith(b"content-length:"))  # fmt: skip
    if error and "write" in error:
        return f"413 read, but the write failed first ({error})"  # most clients report the error
    return "413" if len(body) >= length else "partial 413"


def oversize(host: str, port: int, path: str, clients: int, rounds: int, size: int) -> dict:
    seen: Counter[str] = Counter()
    with ThreadPoolExecutor(clients) as pool:
        for chunked in (True, False):
            for _ in range(rounds):
                runs = [pool.submit(upload, host, port, path, size, chunked)
                        for _ in range(clients)]  # fmt: skip
                seen.update(f"{'chunked' if chunked else 'length'}: {r.result()}" for r in runs)
    return dict(seen)


def main(argv: list[str]) -> None:
    if argv[0] == "idle":
        result = idle(argv[1], int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        result = oversize(argv[1], int(argv[2]), argv[3], int(argv[4]), int(argv[5]),
                          int(argv[6]))  # fmt: skip
    print(json.dumps({"mode": argv[0], "counts": result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
