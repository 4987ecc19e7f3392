"""QueuePipe: every byte it holds counts, whichever task sends it."""

from __future__ import annotations

import asyncio

from actorkit._runtime.pipes import QueuePipe
from actorkit.protocol.messages import CLOSE_SLOW_CONSUMER, codec_for


class Socket:
    """The far end of a pipe: a client that reads only when told to."""

    def __init__(self) -> None:
        self.readable = asyncio.Event()
        self.received: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, data: bytes) -> None:
        await self.readable.wait()  # like a transport whose buffer is full
        self.received.append(data)

    async def close(self, code: int, reason: str) -> None:
        await self.readable.wait()
        self.closed = (code, reason)


async def test_a_reply_stuck_in_send_now_counts_and_is_abandoned_on_overflow() -> None:
    sock = Socket()
    pipe = QueuePipe(codec_for(None), 1000, sock.send, sock.close)
    pipe.start()
    stuck = asyncio.ensure_future(pipe.send_now(b"a" * 600))  # sent from the caller's task
    await asyncio.sleep(0)
    assert pipe.buffered == 600  # the frame being sent counts
    assert pipe.write(b"b" * 300) and pipe.buffered == 900
    assert not pipe.write(b"c" * 200)  # 1,100 > 1,000: the client is too slow
    assert pipe.closing == (CLOSE_SLOW_CONSUMER, "slow consumer: outgoing buffer full")
    await asyncio.wait({stuck})
    assert stuck.cancelled() and pipe.buffered == 0  # nothing held for a client that won't read
    await pipe.finish(0.01)  # the close cannot be written either: give up on it
    assert sock.received == [] and sock.closed is None


async def test_frames_and_the_close_leave_in_order_once_the_client_reads() -> None:
    sock = Socket()
    pipe = QueuePipe(codec_for(None), 1000, sock.send, sock.close)
    pipe.start()
    sending = asyncio.ensure_future(pipe.send_now(b"1"))
    await asyncio.sleep(0)
    assert pipe.write(b"2")
    pipe.close(4000, "bye")
    assert not pipe.write(b"3")
    sock.readable.set()
    await sending
    await pipe.finish(10)
    assert sock.received == [b"1", b"2"] and sock.closed == (4000, "bye")
