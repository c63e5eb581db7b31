#!/usr/bin/env python3
"""The floor for large GETs: an HTTP server that does almost nothing, so that what
`coffer bench --op get` reaches against it is what the client can take from loopback.

Every GET is answered 200 with SIZE bytes (zeros, sent from one buffer held in memory with
`sendall`, so the server's only real work is the kernel's socket copy); every other request
has its body read and is answered 200 with an empty body. No authentication, no storage.
One thread per connection, keep-alive.

    python3 scripts/bench/null_server.py PORT SIZE_BYTES

compare.py starts it beside the servers and runs the large GET workload against it.
"""

from __future__ import annotations

import socket
import sys
import threading

CHUNK = 1 << 20


def serve(conn: socket.socket, size: int, zeros: memoryview) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            # Discard a request body.
            while len(buf) < length:
                data = conn.recv(min(CHUNK, length - len(buf)))
                if not data:
                    return
                buf += data
            buf = buf[length:]
            if method == "GET":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                             b"Content-Type: application/octet-stream\r\n\r\n" % size)
                left = size
                while left:
                    n = min(left, len(zeros))
                    conn.sendall(zeros[:n])
                    left -= n
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def main() -> None:
    port, size = int(sys.argv[1]), int(sys.argv[2])
    zeros = memoryview(bytes(CHUNK))
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, size, zeros), daemon=True).start()


if __name__ == "__main__":
    main()
