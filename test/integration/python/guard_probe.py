"""Probes for the node guard's lab tests, run inside a pod or host namespace.

tcp HOST PORT [bgp]   connect (2 s); prints connected, refused or timeout. With `bgp`, once
                      connected, sends a BGP OPEN and prints session if an OPEN comes back.
tcp-each [bgp] HOST:PORT...
                      tcp to every target at once (so timeouts overlap instead of adding up);
                      one line per target, in the order given.
udp SRC DST PORT      sends one datagram from source address SRC.
ipip DST              sends one IP-in-IP packet (protocol 4) to DST.
listen ADDR PORT...   accepts TCP on each port of ADDR until killed; prints ready once bound.
udp-listen PORT SECS  prints the source address of every datagram to PORT for SECS seconds.
"""

import select
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def bgp_open(my_as=64999, router_id="10.0.0.99"):
    body = struct.pack("!BHH4sB", 4, my_as, 90, socket.inet_aton(router_id), 0)
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 1) + body


def tcp(host, port, bgp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, OSError):
        return "timeout"
    if not bgp:
        return "connected"
    s.sendall(bgp_open())
    try:
        reply = s.recv(4096)
    except (socket.timeout, OSError):
        return "no-session"
    # A speaker that accepts the peer answers with its own OPEN (type 1).
    return "session" if len(reply) >= 19 and reply[18] == 1 else "no-session"


def tcp_each(targets, bgp=False):
    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(lambda t: tcp(*t.rsplit(":", 1), bgp), targets))


def udp(src, dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(b"guard probe", (dst, int(port)))
    return "sent"


def ipip(dst):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    # An inner IPv4 header (20 bytes, protocol 17) is enough for the outer one to be IP-in-IP.
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, 17, 0,
                        socket.inet_aton("10.244.9.9"), socket.inet_aton(dst))
    s.sendto(inner, (dst, 0))
    return "sent"


def listen(addr, ports):
    socks = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(16)
        socks.append(s)
    print("ready", file=sys.stderr, flush=True)
    while True:
        readable, _, _ = select.select(socks, [], [])
        for s in readable:
            conn, _ = s.accept()
            conn.close()


def udp_listen(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(port)))
    print("ready", file=sys.stderr, flush=True)
    end = time.time() + float(seconds)
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            _, (src, _) = s.recvfrom(2048)
            print(src, flush=True)
        except socket.timeout:
            pass
    return "done"


def main(argv):
    verb, args = argv[0], argv[1:]
    if verb == "tcp":
        print(tcp(args[0], args[1], len(args) > 2 and args[2] == "bgp"))
    elif verb == "tcp-each":
        bgp = args[:1] == ["bgp"]
        print("\n".join(tcp_each(args[1:] if bgp else args, bgp)))
    elif verb == "udp":
        print(udp(*args))
    elif verb == "ipip":
        print(ipip(*args))
    elif verb == "listen":
        listen(args[0], args[1:])
    elif verb == "udp-listen":
        print(udp_listen(*args))
    else:
        raise SystemExit(f"unknown probe {verb}")


if __name__ == "__main__":
    main(sys.argv[1:])
