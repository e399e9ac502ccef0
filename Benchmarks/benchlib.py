"""What the Python benchmarks share: a process's CPU time from /proc and one HTTP exchange with
jobqd on its Unix socket."""

import os
import socket

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the process (its threads, not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def exchange(socket_path, method, target, body=b""):
    """One request on a new connection (`Connection: close`); the whole answer, head and body."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(socket_path)
        head = f"{method} {target} HTTP/1.1\r\nHost: jobq\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        connection.sendall(head.encode() + body)
        answer = b""
        while chunk := connection.recv(1 << 16):
            answer += chunk
        return answer
