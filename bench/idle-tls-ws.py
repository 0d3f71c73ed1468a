#!/usr/bin/env python3
"""Idle memory per connection over TLS and WebSockets: mq broker and Mosquitto side by side.

Usage: bench/idle-tls-ws.py MQ_BINARY [COUNT]

Makes a CA and a server certificate with openssl, starts `mq broker` and Mosquitto (/usr/sbin/mosquitto),
each with a TLS listener and a WebSocket listener on loopback, then for each broker and transport opens
COUNT (default 2000) connections that send CONNECT (MQTT 3.1.1, keep alive 600 s), wait for CONNACK and
stay idle, against a fresh broker process per transport. The broker's resident memory is read from
/proc before and 5 s after (so mq's connections have parked); the table gives the difference divided
by COUNT. Only loopback is used.
"""
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
MQ = sys.argv[1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect_packet(cid):
    body = b"\x00\x04MQTT\x04\x02\x02\x58" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def ws_frame(payload):
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x82, 0x80 | len(payload)]) + mask + masked


def recv_until(sock, pred, limit=65536):
    data = b""
    while not pred(data):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
        if len(data) > limit:
            raise ConnectionError("too much")
    return data


def open_one(port, tls_ctx, ws, n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls_ctx:
        s = tls_ctx.wrap_socket(s, server_hostname="localhost")
    cid = f"idle-{n}".encode()
    if ws:
        s.sendall(
            b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        )
        recv_until(s, lambda d: b"\r\n\r\n" in d)
        s.sendall(ws_frame(connect_packet(cid)))
        recv_until(s, lambda d: len(d) >= 6)
    else:
        s.sendall(connect_packet(cid))
        recv_until(s, lambda d: len(d) >= 4)
    return s


def measure(pid, port, tls_ctx, ws):
    time.sleep(1)
    before = rss_kib(pid)
    started = time.time()
    socks = [open_one(port, tls_ctx, ws, n) for n in range(COUNT)]
    print(f"  {COUNT} connections opened in {time.time() - started:.1f} s", file=sys.stderr, flush=True)
    time.sleep(5)
    after = rss_kib(pid)
    for s in socks:
        s.close()
    return (after - before) * 1024 / COUNT


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = tempfile.mkdtemp()
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[srv]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA")
    run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", "-extensions", "srv")
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    results = []
    for name, cmd in [("mq", [MQ, "broker", "-c"]), ("mosquitto", ["/usr/sbin/mosquitto", "-c"])]:
        ports = {k: free_port() for k in ["tcp", "tls", "ws", "wss"]}
        conf = os.path.join(d, f"{name}.conf")
        tls = f"certfile {d}/server.crt\nkeyfile {d}/server.key\n"
        with open(conf, "w") as f:
            f.write(
                f"user root\nlog_dest none\n"
                f"listener {ports['tcp']} 127.0.0.1\nallow_anonymous true\n"
                f"listener {ports['tls']} 127.0.0.1\nallow_anonymous true\n{tls}"
                f"listener {ports['ws']} 127.0.0.1\nallow_anonymous true\nprotocol websockets\n"
                f"listener {ports['wss']} 127.0.0.1\nallow_anonymous true\nprotocol websockets\n{tls}"
            )
        row = [name]
        # A fresh broker per transport, so memory one run frees cannot hide the next one's.
        for kind, c, ws in [("tcp", None, False), ("tls", ctx, False), ("ws", None, True), ("wss", ctx, True)]:
            if os.environ.get("KINDS") and kind not in os.environ["KINDS"].split(","):
                row.append(float("nan"))
                continue
            log = open(os.path.join(d, f"{name}-{kind}.log"), "w")
            p = subprocess.Popen(cmd + [conf], stdout=subprocess.DEVNULL, stderr=log)
            time.sleep(1.5)
            row.append(measure(p.pid, ports[kind], c, ws))
            print(name, kind, f"{row[-1]:,.0f} B/connection", file=sys.stderr, flush=True)
            p.terminate()
            p.wait()
        results.append(row)
    print(f"idle memory per connection, {COUNT} connections (bytes, RSS delta / count)")
    print("| broker | TCP | TLS | WebSocket | WebSocket over TLS |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r[0]} | " + " | ".join(f"{v:,.0f}" for v in r[1:]) + " |")


if __name__ == "__main__":
    main()
