"""Probes for the dual-stack lab test, run inside a host or pod namespace.

add-connect PLUGIN CONF NETNS CONTAINER HOST PORT
    runs the CNI plugin's ADD for a new pod (as a runtime does, in the host namespace), then
    at once enters the pod's namespace and makes one TCP connection to HOST PORT, with no
    retry. Prints JSON: the ADD result, whether the connection was made, the milliseconds
    from ADD returning to connected, and those of the connect call alone.
ra IFNAME
    sends one Router Advertisement (default router, prefix 2001:db8:bad::/64) to all nodes
    on IFNAME, as a rogue pod would.
"""

import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000


def enter(netns):
    fd = os.open(netns, os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + netns)
    os.close(fd)


def add_connect(plugin, conf, netns, container, host, port):
    env = dict(os.environ, CNI_COMMAND="ADD", CNI_CONTAINERID=container, CNI_NETNS=netns,
               CNI_IFNAME="eth0", CNI_PATH=os.path.dirname(plugin),
               CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + container)
    with open(conf) as f:
        added = subprocess.run([plugin], input=f.read(), env=env, capture_output=True, text=True)
    returned = time.monotonic()
    if added.returncode != 0:
        return {"added": False, "error": added.stdout + added.stderr}
    enter(netns)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    started = time.monotonic()
    try:
        s.connect((host, int(port)))
        connected = True
    except OSError as err:
        connected = str(err)
    done = time.monotonic()
    return {"added": True, "result": json.loads(added.stdout), "connected": connected,
            "ms": (done - returned) * 1000, "connect_ms": (done - started) * 1000}


def router_advertisement(ifname):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    # Type 134, code 0, checksum (the kernel fills it in), hop limit 64, no flags, router
    # lifetime 1800 s, reachable and retransmit timers unset.
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    # Prefix information: on-link and autonomous, valid a day, preferred four hours.
    prefix = struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0,
                         socket.inet_pton(socket.AF_INET6, "2001:db8:bad::"))
    s.sendto(ra + prefix, ("ff02::1", 0, 0, socket.if_nametoindex(ifname)))
    return "sent"


def main(argv):
    if argv[0] == "add-connect":
        print(json.dumps(add_connect(*argv[1:7])))
    elif argv[0] == "ra":
        print(router_advertisement(argv[1]))
    else:
        sys.exit("unknown probe " + argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
