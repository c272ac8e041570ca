// The first-packet timer the benchmarks share: a Python loop of blocking TCP connects (SYN to
// SYN-ACK, microseconds), which adds far less than Node's event loop to what the kernel's rules
// cost. Run with: python3 -c CONNECT_TIMER <ip> <port> <count>; prints a JSON list.
export const CONNECT_TIMER = `
import socket, sys, time, json
ip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(count):
    s = socket.socket()
    t = time.perf_counter()
    s.connect((ip, port))
    out.append((time.perf_counter() - t) * 1e6)
    s.close()
print(json.dumps(out))
`;
