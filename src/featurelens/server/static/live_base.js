// featurelens live pages, what the image page (live.js) and the audio page (live_audio.js) share: the WebSocket
// (reconnecting), options out, errors in, and the wiring of the channels canvas and the layer menu.
"use strict";

const info = JSON.parse(document.getElementById("featurelens-info").textContent);
const $ = (id) => document.getElementById(id);

let notice = "";  // what the page itself found wrong (e.g. in its address): shown again when the server's errors clear

// Says `message` in the error line until the next one (or the server accepts the options: then the notice is left).
function keepNotice(message) {
  notice = message;
  showError(message);
}

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

// An answer's JSON header and where its payload starts: "FLV1", a uint32 header length, the header, the payload.
function answerHeader(buffer) {
  const length = new DataView(buffer).getUint32(4, true);
  return { header: JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length))), payload: 8 + length };
}

// Counts an answer (frames in flight; #fps's data-frames) and returns the answers a second over the last 2 s.
function countAnswer(state, header) {
  state.received += 1;
  state.dropped = header.dropped;
  $("fps").dataset.frames = String(state.received);
  const now = performance.now();
  state.times.push(now);
  while (now - state.times[0] > 2000) state.times.shift();
  return state.times.length > 1 ? (state.times.length - 1) * 1000 / (now - state.times[0]) : 0;
}

function sendLiveOptions(state) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(state.options));
}

function onText(message) {
  if (message.type === "error") showError(message.message);
  else if (message.type === "options") showError(notice);
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
    keepNotice("");  // the user chose: what the address asked no longer stands
    state.options.unit = null;
    $("unit-panel").hidden = true;
    sendOptions();
  });
}

// A new element with `attributes` set (null ones left out) and `children` appended, strings as text: the pages
// build what they show this way, never as markup, so no text from the address, a record or a file name runs.
function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
  return node;
}
