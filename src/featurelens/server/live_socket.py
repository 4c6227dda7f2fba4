"""The live WebSocket: frames (or, for an audio model, the last seconds of sound) in, processed frames out, only ever the newest.

A connection keeps one slot for the newest frame it has received; while the model works on one frame,
frames that arrive overwrite the slot (counted as dropped), so latency stays bounded when the model is
slower than the camera. The model runs in a thread of the connection's own, which takes the next frame
as soon as it is done with one while the event loop sends the answer and receives what comes: the model
never waits for the network. A client that disconnects mid-frame just ends its own connection. At most
`ConnectionSlots.limit` connections are served at once; one more is told so and closed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import traceback

from fastapi import WebSocket, WebSocketDisconnect

from featurelens.errors import FeaturelensError
from featurelens.live import LiveOptions, LiveSession, encode_frame, process_message
from featurelens.server.live_options import parse_options

TRY_AGAIN_LATER = 1013  # the WebSocket close code for a server at its limit


class ConnectionSlots:
    """Places for open live connections, at most `limit`."""

    def __init__(self, limit: int):
        self.limit = limit
        self._places = threading.BoundedSemaphore(limit)

    def take(self) -> bool:
        return self._places.acquire(blocking=False)

    def give_back(self) -> None:
        self._places.release()


class NewestFrame:
    """The newest frame received and the options it goes with; the model thread waits on it."""

    def __init__(self, options: LiveOptions):
        self.options = options
        self.data: bytes | None = None
        self.dropped = 0
        self.closed = False
        self._ready = threading.Condition()

    def put(self, data: bytes) -> None:
        with self._ready:
            self.dropped += self.data is not None
            self.data = data
            self._ready.notify()

    def take(self) -> tuple[bytes, LiveOptions, int] | None:
        """The newest frame, its options and the count dropped so far; None once the connection closed."""
        with self._ready:
            self._ready.wait_for(lambda: self.data is not None or self.closed)
            if self.closed:
                return None
            data, self.data = self.data, None
            return data, self.options, self.dropped

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify()


async def serve_live(websocket: WebSocket, session: LiveSession, defaults: LiveOptions, slots: ConnectionSlots) -> None:
    """Run one page's live connection until it closes (or refuse it when `slots` are all taken)."""
    await websocket.accept()
    if not slots.take():
        message = f"busy: {slots.limit} live connections are open, the most this server takes (--max-connections): close another tab"
        await websocket.send_text(json.dumps({"type": "error", "message": message}))
        await websocket.close(TRY_AGAIN_LATER)
        return
    try:
        await _serve(websocket, session, defaults)
    finally:
        slots.give_back()


async def _serve(websocket: WebSocket, session: LiveSession, defaults: LiveOptions) -> None:
    newest = NewestFrame(session.check(defaults))
    answers: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    model = threading.Thread(target=_run_model, args=(session, newest, lambda answer: _hand_to(loop, answers, answer)), daemon=True)
    model.start()
    sender = asyncio.create_task(_send(websocket, answers, newest))
    try:
        await _receive(websocket, session, newest)
    finally:
        newest.close()
        sender.cancel()


def _run_model(session: LiveSession, newest: NewestFrame, answer) -> None:
    """The connection's model thread: process the newest frame, hand the message to the event loop, repeat."""
    number = 0
    while (taken := newest.take()) is not None:
        data, options, dropped = taken
        try:
            frame = process_message(session, data, options)
        except FeaturelensError as err:
            answer(json.dumps({"type": "error", "message": str(err)}))
            continue
        except Exception as err:  # a bug on one frame must not end the connection: say it, keep serving
            traceback.print_exc()
            answer(json.dumps({"type": "error", "message": f"this frame failed ({type(err).__name__}: {err})"}))
            continue
        number += 1
        answer(encode_frame(frame, number, {"dropped": dropped}))


def _hand_to(loop: asyncio.AbstractEventLoop, answers: asyncio.Queue, answer: str | bytes) -> None:
    try:
        loop.call_soon_threadsafe(answers.put_nowait, answer)
    except RuntimeError:  # the server stopped while this frame was in the model: nobody is waiting for it
        pass


async def _send(websocket: WebSocket, answers: asyncio.Queue, newest: NewestFrame) -> None:
    try:
        while True:
            answer = await answers.get()
            await (websocket.send_text(answer) if isinstance(answer, str) else websocket.send_bytes(answer))
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        newest.close()  # the page went away mid-frame: nothing to clean up but this connection


async def _receive(websocket: WebSocket, session: LiveSession, newest: NewestFrame) -> None:
    """Keep the newest frame and the newest options, until the page goes away."""
    try:
        while not newest.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                newest.put(message["bytes"])
            elif message.get("text") is not None:
                await _configure(websocket, session, newest, message["text"])
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass


async def _configure(websocket: WebSocket, session: LiveSession, newest: NewestFrame, text: str) -> None:
    try:
        newest.options = session.check(LiveOptions(**{**newest.options.__dict__, **parse_options(text)}))
        await websocket.send_text(json.dumps({"type": "options", "options": newest.options.__dict__}))
    except FeaturelensError as err:
        await websocket.send_text(json.dumps({"type": "error", "message": str(err)}))
