// featurelens live page for an audio model: streams the last few seconds of the microphone (or of a playing file)
// over the WebSocket and draws what comes back: every channel of the layer over time (a heat map, one row a channel,
// newest on the right), the log-mel the model heard, and the chosen unit's activation over time.
"use strict";

const SEND_EVERY_MS = 100;  // a new window at most this often; the server keeps only the newest
const state = {
  ws: null, options: { layer: info.default_layer, unit: null }, context: null, processor: null, input: null,
  ring: null, write: 0, filled: 0, fresh: false, sent: 0, received: 0, dropped: 0, times: [], mediaSource: null,
};

const sendOptions = () => sendLiveOptions(state);

// --- sound in: one AudioContext at the model's rate; a source feeds a ring buffer of the model's clip length ---
function audioContext() {
  if (state.context) return state.context;
  try {
    state.context = new AudioContext({ sampleRate: info.audio.sample_rate });
  } catch (err) {  // a browser that cannot run at that rate: its own rate, resampled by the server
    state.context = new AudioContext();
  }
  const context = state.context;
  state.ring = new Float32Array(Math.ceil(info.audio.clip_seconds * context.sampleRate));
  state.processor = context.createScriptProcessor(1024, 1, 1);  // 64 ms at 16 kHz: fresh sound for every send
  state.processor.onaudioprocess = (event) => keep(event.inputBuffer.getChannelData(0));
  const silent = context.createGain();  // the processor runs only when connected; it must not echo the microphone
  silent.gain.value = 0;
  state.processor.connect(silent).connect(context.destination);
  return context;
}

function keep(samples) {
  if (!state.input) return;  // the processor runs (on silence) before a source is chosen
  const ring = state.ring;
  for (let i = 0; i < samples.length; i += 1) {
    ring[state.write] = samples[i];
    state.write = (state.write + 1) % ring.length;
  }
  state.filled = Math.min(ring.length, state.filled + samples.length);
  state.fresh = true;
}

function listenTo(node, label) {
  if (state.input) state.input.disconnect(state.processor);
  state.input = node;
  node.connect(state.processor);
  state.filled = 0;
  state.fresh = false;
  $("status").textContent = label;
  showError("");
}

async function useMicrophone() {
  const context = audioContext();
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false });
    await context.resume();
    $("player").pause();
    listenTo(context.createMediaStreamSource(stream), "microphone");
  } catch (err) {
    showError(`no microphone: ${err.message || err}`);
  }
}

async function useFile(file) {
  showError("");
  const context = audioContext();
  const response = await fetch("/api/upload", { method: "POST", body: file });
  const answer = await response.json().catch(() => ({ error: `upload failed (${response.status})` }));
  if (!response.ok) { showError(answer.error || `upload failed (${response.status})`); return; }
  const player = $("player");
  if (!state.mediaSource) {  // an element gets one source node for life; it also plays to the speakers
    state.mediaSource = context.createMediaElementSource(player);
    state.mediaSource.connect(context.destination);
  }
  player.src = answer.url;
  player.hidden = false;
  await context.resume();
  listenTo(state.mediaSource, file.name);
  player.play().catch((err) => showError(`cannot play ${file.name}: ${err.message || err}`));
}

// --- windows out: the newest clip length, oldest sample first ---------------------------------------------
function sendWindow() {
  const inFlight = state.sent - state.received - state.dropped;
  if (!state.fresh || !state.filled || !state.ws || state.ws.readyState !== WebSocket.OPEN || inFlight >= 2) return;
  const ring = state.ring, count = state.filled;
  const message = new ArrayBuffer(8 + 4 * count);
  new Uint8Array(message, 0, 4).set([70, 76, 65, 49]);  // "FLA1"
  new DataView(message).setUint32(4, state.context.sampleRate, true);
  const samples = new Float32Array(message, 8, count);
  const start = (state.write - count + ring.length) % ring.length;
  const first = Math.min(count, ring.length - start);
  samples.set(ring.subarray(start, start + first), 0);
  samples.set(ring.subarray(0, count - first), first);
  state.fresh = false;
  state.sent += 1;
  state.ws.send(message);
}

// --- windows in ---------------------------------------------------------------------------------------
function onWindow(buffer) {
  const { header, payload } = answerHeader(buffer);
  if (header.kind !== "audio") return;
  const maps = new Uint8Array(buffer, payload, header.channels * header.steps);
  const mel = new Uint8Array(buffer, payload + maps.length, header.bands * header.frames);
  $("fps").textContent = `${countAnswer(state, header).toFixed(1)} windows/s`;
  drawHeat(header, maps);
  paint($("mel-canvas"), mel, header.frames, header.bands, INFERNO, true);
  $("mel-canvas").dataset.frame = String(header.frame);
  drawTrace(header);
}

function palette(anchors) {  // 256 RGB entries interpolated between the anchors
  const table = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v += 1) {
    const level = (v / 255) * (anchors.length - 1), low = Math.min(Math.floor(level), anchors.length - 2), f = level - low;
    for (let k = 0; k < 3; k += 1) table[3 * v + k] = Math.round(anchors[low][k] * (1 - f) + anchors[low + 1][k] * f);
  }
  return table;
}
const INFERNO = palette([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]]);  // as the spectrogram pictures
const HEAT = palette([[0, 0, 0], [194, 65, 12], [255, 170, 0], [255, 255, 220]]);

// Rows of `bytes` (height × width, row-major) through a palette; `flip` puts row 0 at the bottom (low mel bands).
function paint(canvas, bytes, width, height, table, flip) {
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const context = canvas.getContext("2d"), image = context.createImageData(width, height), data = image.data;
  for (let y = 0; y < height; y += 1) {
    const row = flip ? height - 1 - y : y;
    for (let x = 0; x < width; x += 1) {
      const v = bytes[row * width + x], out = 4 * (y * width + x);
      data[out] = table[3 * v]; data[out + 1] = table[3 * v + 1]; data[out + 2] = table[3 * v + 2]; data[out + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

function drawHeat(header, maps) {
  const canvas = $("heat-canvas");
  paint(canvas, maps, header.steps, header.channels, HEAT, false);
  if (state.options.unit !== null && state.options.unit < header.channels) {  // outline the chosen channel's row
    const context = canvas.getContext("2d");
    context.fillStyle = "rgba(80, 160, 255, 0.55)";
    context.fillRect(0, state.options.unit, 1, 1);
    context.fillRect(header.steps - 1, state.options.unit, 1, 1);
  }
  Object.assign(canvas.dataset, { layer: header.layer, channels: header.channels, steps: header.steps, frame: header.frame });
  $("layer-name").textContent = header.layer;
}

function drawTrace(header) {
  const unit = header.unit, canvas = $("unit-trace");
  if (!unit || unit.channel !== state.options.unit) return;
  const context = canvas.getContext("2d"), values = unit.values, w = canvas.width, h = canvas.height;
  const top = Math.max(...values, 1e-6), bottom = Math.min(...values, 0);
  context.clearRect(0, 0, w, h);
  context.strokeStyle = "#c2410c";
  context.lineWidth = 2;
  context.beginPath();
  values.forEach((v, i) => {
    const x = values.length > 1 ? (i / (values.length - 1)) * (w - 4) + 2 : w / 2, y = h - 4 - ((v - bottom) / (top - bottom)) * (h - 8);
    if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
  canvas.dataset.frame = String(header.frame);
  const at = (unit.peak_step + 0.5) / values.length * header.window_seconds - header.window_seconds;
  $("unit-figures").textContent = `peak ${unit.peak.toFixed(3)} at ${at.toFixed(2)} s (step ${unit.peak_step} of ${values.length})`;
}

function selectUnit(channel) {
  state.options.unit = channel;
  $("unit-panel").hidden = false;
  $("unit-title").textContent = `${state.options.layer}:${channel}`;
  $("unit-trace").getContext("2d").clearRect(0, 0, $("unit-trace").width, $("unit-trace").height);
  delete $("unit-trace").dataset.frame;
  sendOptions();
  if (window.featurelensUnitViews) window.featurelensUnitViews(state.options.layer, channel);
}

function channelAt(event) {
  const canvas = $("heat-canvas"), box = canvas.getBoundingClientRect(), channels = Number(canvas.dataset.channels || 0);
  const channel = Math.floor(((event.clientY - box.top) / box.height) * channels);
  return channel >= 0 && channel < channels ? channel : null;
}

// --- wiring -----------------------------------------------------------------------------------------
wireChannels($("heat-canvas"), state, channelAt, selectUnit, sendOptions);
$("source-microphone").addEventListener("click", useMicrophone);
$("source-upload").addEventListener("change", (event) => { if (event.target.files[0]) useFile(event.target.files[0]); });
connectLive(state, onWindow, sendOptions);
$("status").textContent = "press Microphone, or choose an audio file";
setInterval(sendWindow, SEND_EVERY_MS);
