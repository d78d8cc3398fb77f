"""The store's TCP proxy, in a process of its own: SIGUSR1 cuts it, SIGUSR2 brings it back.

    .venv/bin/python -m tests.chaos.dbproxy --port PORT --target 127.0.0.1:5432

The workers reach PostgreSQL only through it. Cut, it refuses new connections and drops every
open one (``tests.proxy.TcpProxy.stop``); the real server is never touched. SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.proxy import TcpProxy


async def serve(port: int, target: tuple[str, int]) -> None:
    proxy = TcpProxy(port, target)
    await proxy.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    orders: asyncio.Queue[bool] = asyncio.Queue()
    loop.add_signal_handler(signal.SIGUSR1, orders.put_nowait, False)
    loop.add_signal_handler(signal.SIGUSR2, orders.put_nowait, True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def obey() -> None:
        up = True
        while True:
            wanted = await orders.get()
            if wanted and not up:
                await proxy.start()
                print("dbproxy: up", flush=True)
            elif not wanted and up:
                await proxy.stop()
                print("dbproxy: cut", flush=True)
            up = wanted

    task = asyncio.create_task(obey())
    await stop.wait()
    task.cancel()
    await proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", default="127.0.0.1:5432", help="host:port")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, (host, int(port))))


if __name__ == "__main__":
    main()
