"""forkpool.worker's in-order reading, without a daemon: lines taken from
reads of any split, and the check for a "cancel" line waiting behind the
current job seeing one however the reads cut it, and only while it is
unread; the RSS figure from the kept /proc/self/statm in a forked child."""
import json
import os
import socket

from forkpool import worker


def _line(msg: dict) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def test_lines_from_reads_of_any_split():
    a, b = socket.socketpair()
    with a, b:
        data = b"".join(_line({"op": "job", "seq": i}) for i in range(3)) + b"tail"
        lines = worker._Lines(b.fileno())
        a.sendall(data[:5])
        a.sendall(data[5:17])
        a.sendall(data[17:])
        a.shutdown(socket.SHUT_WR)
        got = [lines.next() for _ in range(5)]
    assert [json.loads(g)["seq"] for g in got[:3]] == [0, 1, 2]
    assert got[3] == b"tail" and got[4] is None


def test_cancel_behind_the_job_seen_across_a_split_read():
    a, b = socket.socketpair()
    with a, b:
        lines = worker._Lines(b.fileno())
        job, cancel = _line({"op": "job", "seq": 7}), _line({"op": "cancel", "seq": 7})
        cut = len(job) + cancel.index(b'"cancel"') + 3  # inside the word
        a.sendall((job + cancel)[:cut])
        assert json.loads(lines.next())["seq"] == 7
        assert not worker._has_cancel(lines.ahead(), 7)  # not all there yet
        a.sendall((job + cancel)[cut:])
        assert worker._cancel_waiting(lines, 7)  # peeked on the socket
        assert lines.next() == cancel.rstrip(b"\n")  # read in two parts
        assert lines.ahead() == b""  # taken: nothing waits any more
        a.sendall(_line({"op": "job", "seq": 8}) + _line({"op": "job", "seq": 9}))
        lines.next()
        assert not worker._has_cancel(lines.ahead(), 9)


def test_cancel_for_another_job_is_not_this_ones():
    a, b = socket.socketpair()
    with a, b:
        lines = worker._Lines(b.fileno())
        a.sendall(_line({"op": "job", "seq": 1}) + _line({"op": "cancel", "seq": 2}))
        lines.next()
        assert worker._has_cancel(lines.ahead(), 2)
        assert not worker._has_cancel(lines.ahead(), 1)


def test_rss_in_a_forked_child_is_its_own():
    assert worker._rss_kb() > 0  # opens and keeps the file
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        big = bytearray(64 << 20)  # touch 64 MiB in the child only
        for i in range(0, len(big), 4096):
            big[i] = 1
        os.write(w, str(worker._rss_kb()).encode())
        os._exit(0)
    os.close(w)
    child_kb = int(os.read(r, 64))
    os.close(r)
    os.waitpid(pid, 0)
    assert child_kb >= worker._rss_kb() + 32 * 1024
