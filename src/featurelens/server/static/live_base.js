// featurelens live pages, what the image page (live.js) and the audio page (live_audio.js) share: the WebSocket
// (reconnecting), options out, errors in, and the wiring of the channels canvas and the layer menu.
"use strict";

const info = window.FEATURELENS;
const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// Opens /ws/live for `state` (its counters restart); binary messages go to `onBinary`, text ones say errors.
function connectLive(state, onBinary, sendOptions, onOpen = () => {}) {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { state.sent = state.received = state.dropped = 0; sendOptions(); onOpen(); };
  ws.onclose = () => { $("status").textContent = "disconnected — reconnecting…"; setTimeout(() => connectLive(state, onBinary, sendOptions, onOpen), 1000); };
  ws.onmessage = (event) => (typeof event.data === "string" ? onText(JSON.parse(event.data)) : onBinary(event.data));
  state.ws = ws;
}

function sendLiveOptions(state) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(state.options));
}

function onText(message) {
  if (message.type === "error") showError(message.message);
  else if (message.type === "options") showError("");
}

// A click on `canvas` picks the channel under it (`channelAt(event)`, or null), hovering names it; a new layer
// forgets the unit.
function wireChannels(canvas, state, channelAt, selectUnit, sendOptions) {
  canvas.addEventListener("click", (event) => { const channel = channelAt(event); if (channel !== null) selectUnit(channel); });
  canvas.addEventListener("mousemove", (event) => {
    const channel = channelAt(event);
    canvas.title = channel === null ? "" : `${state.options.layer}:${channel}`;
  });
  $("layer").addEventListener("change", (event) => {
    state.options.layer = event.target.value;
    state.options.unit = null;
    $("unit-panel").hidden = true;
    sendOptions();
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}
