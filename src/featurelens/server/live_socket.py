"""The live WebSocket: frames (or, for an audio model, the last seconds of sound) in, processed frames out, only ever the newest.

A connection keeps one slot for the newest frame it has received; while the model works on one frame,
frames that arrive overwrite the slot (counted as dropped), so latency stays bounded when the model is
slower than the camera. A client that disconnects mid-frame just ends its own connection.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import WebSocket, WebSocketDisconnect

from featurelens.errors import FeaturelensError
from featurelens.live import LiveOptions, LiveSession, decode_audio, decode_frame, encode_frame, process_audio


async def serve_live(websocket: WebSocket, session: LiveSession, defaults: LiveOptions) -> None:
    """Run one page's live connection until it closes."""
    await websocket.accept()
    state = {"options": session.check(defaults), "latest": None, "closed": False, "dropped": 0}
    wake = asyncio.Event()
    receiver = asyncio.create_task(_receive(websocket, session, state, wake))
    number = 0
    try:
        while True:
            await wake.wait()
            wake.clear()
            if state["closed"]:
                break
            data, state["latest"] = state["latest"], None
            if data is None:
                continue
            options = state["options"]
            try:
                frame = await asyncio.to_thread(_process, session, data, options)
            except FeaturelensError as err:
                await websocket.send_text(json.dumps({"type": "error", "message": str(err)}))
                continue
            number += 1
            await websocket.send_bytes(encode_frame(frame, number, {"dropped": state["dropped"]}))
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass  # the page went away mid-frame: nothing to clean up but this connection
    finally:
        receiver.cancel()


def _process(session: LiveSession, data: bytes, options: LiveOptions):
    if session.model.audio is not None:  # the newest few seconds of sound, in a message of its own kind
        return process_audio(session, decode_audio(data, session.model.audio), options)
    image = decode_frame(data, session.model.in_channels, session.model.input_size)
    return session.process(image, options)


async def _receive(websocket: WebSocket, session: LiveSession, state: dict, wake: asyncio.Event) -> None:
    """Keep the newest frame and the newest options; wake the processing loop."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                if state["latest"] is not None:
                    state["dropped"] += 1
                state["latest"] = message["bytes"]
                wake.set()
            elif message.get("text") is not None:
                await _configure(websocket, session, state, message["text"])
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        state["closed"] = True
        wake.set()


async def _configure(websocket: WebSocket, session: LiveSession, state: dict, text: str) -> None:
    try:
        asked = json.loads(text)
        if not isinstance(asked, dict):
            raise ValueError("options must be a JSON object")
        known = {k: v for k, v in asked.items() if k in ("layer", "unit", "method", "classes", "why", "top")}
        state["options"] = session.check(LiveOptions(**{**state["options"].__dict__, **known}))
        await websocket.send_text(json.dumps({"type": "options", "options": state["options"].__dict__}))
    except (FeaturelensError, ValueError, TypeError) as err:
        await websocket.send_text(json.dumps({"type": "error", "message": str(err)}))
