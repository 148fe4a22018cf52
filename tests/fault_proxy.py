"""A fault-injecting TCP proxy for object-store tests: in front of an S3 server, it answers a fraction of the
requests with `503 Slow Down` (without forwarding them, as an overloaded gateway does) and delays the others by a
random few milliseconds (between min_delay_s and max_delay_s); a further fraction is forwarded but the answer is lost (the client's connection reset once
the server answered: the request was applied, the client cannot know). Each forwarded request carries `Connection: close`, so every request comes on a new
connection and meets the dice. Run in a thread of the test process;
`port` is the port it really bound (0 asked), `stats` counts what it did, `requests` lists the request lines.
"""

import asyncio
import random
import threading

REPLY_503 = (b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: 72\r\nConnection: close\r\n"
             b"\r\n<Error><Code>SlowDown</Code><Message>injected by the test</Message></Error>")


class FaultProxy:
    def __init__(self, upstream_port: int, fail_fraction: float, max_delay_s: float, lose_fraction: float = 0.0,
                 seed: int = 1, min_delay_s: float = 0.0):
        self.upstream_port = upstream_port
        self.fail_fraction = fail_fraction
        self.lose_fraction = lose_fraction
        self.max_delay_s = max_delay_s
        self.min_delay_s = min_delay_s
        self.rng = random.Random(seed)
        self.stats = {"connections": 0, "failed": 0, "delayed": 0, "lost": 0}
        self.requests: list[str] = []  # the request line of every request, in arrival order
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def __exit__(self, *exc):
        if self._loop:
            self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _stop(self):
        for t in asyncio.all_tasks(self._loop):
            t.cancel()
        self._loop.call_soon(self._loop.stop)

    def _run(self):
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.stats["connections"] += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
        if self.rng.random() < self.fail_fraction:
            self.stats["failed"] += 1
            writer.write(REPLY_503)
            try:
                await writer.drain()
            finally:
                writer.close()
            return
        if self.max_delay_s > 0:
            self.stats["delayed"] += 1
            await asyncio.sleep(self.rng.uniform(self.min_delay_s, self.max_delay_s))
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        # One request per connection (the upstream closes after answering), so that every request meets the dice.
        lines = [ln for ln in head.split(b"\r\n")[:-2] if not ln.lower().startswith(b"connection:")]
        up_w.write(b"\r\n".join([*lines, b"Connection: close", b"", b""]))

        lose = self.rng.random() < self.lose_fraction

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    dst.close()
                except RuntimeError:
                    pass

        if lose:
            # The server applies the request; its answer is lost: the client's connection is reset instead.
            self.stats["lost"] += 1
            upload = asyncio.ensure_future(pipe(reader, up_w))
            try:
                await up_r.read(1)
            except ConnectionError:
                pass
            writer.transport.abort()
            upload.cancel()
            up_w.close()
            return
        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
