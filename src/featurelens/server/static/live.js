// featurelens live page: sends camera/video/image frames over a WebSocket and draws what comes back
// (every channel's map of the chosen layer, the top classes, why the top class, a unit's projection).
"use strict";

const state = {
  ws: null, options: { layer: info.default_layer, unit: null, method: info.default_method, classes: info.classes, why: info.classes },
  source: null, stillDirty: false, sent: 0, received: 0, dropped: 0, times: [], gridImage: null, fpsShown: 0, overlayShown: false,
  reader: null, pending: null, encoding: false, encoded: null,  // the camera: its track's reader, newest frame, JPEG
  chosen: 0, label: "",  // sources chosen so far (a late-loading still yields to a later choice); the source's name
};
const capture = document.createElement("canvas");
capture.width = capture.height = info.input_size;
const captureContext = capture.getContext("2d");
// Camera frames are cropped, scaled and encoded in a worker, one at a time, ahead of need: the encoded frame waits
// until fewer than two are in flight, so an answer is followed at once by the next frame.
const encoder = new Worker("/static/frame_encoder.js");
encoder.onmessage = ({ data: blob }) => {
  state.encoding = false;
  if (state.reader) state.encoded = blob;
  pumpCamera();
};

function sendOptions() {
  sendLiveOptions(state);
  state.stillDirty = true;
}

// --- sources: camera, video file, uploaded image, bundled photo ---------------------------------------
function useVideo(setup) {
  state.chosen += 1;  // a still still loading must not take over
  stopReader();
  markPhoto(null);
  const video = $("video");
  $("still").hidden = true;
  video.hidden = false;
  setup(video);
  video.play().catch(() => {});
  state.source = video;
}

function showSource(label) {  // the status line names the source (a reconnected socket shows it again)
  state.label = label;
  $("status").textContent = label;
}

async function useCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    useVideo((video) => { video.onerror = null; video.srcObject = stream; video.loop = false; });
    if ("MediaStreamTrackProcessor" in window) readFrames(stream.getVideoTracks()[0].clone());
    showSource("camera");
    showError("");
  } catch (err) {
    showError(`no camera: ${err.message || err}`);
  }
}

// Every frame of the camera's track as it arrives (the video element only shows those the screen refreshes, at
// most 60 a second); the newest waits for a free slot and replaces an older one still waiting.
async function readFrames(track) {
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
  state.reader = reader;
  for (;;) {
    const { value: frame, done } = await reader.read().catch(() => ({ done: true }));
    if (done || state.reader !== reader) { if (frame) frame.close(); return; }
    if (state.pending) state.pending.close();
    state.pending = frame;
    sendFrame();
  }
}

function stopReader() {
  if (state.reader) state.reader.cancel().catch(() => {});
  if (state.pending) state.pending.close();
  state.reader = state.pending = state.encoded = null;
}

function pumpCamera() {
  if (state.encoded && canSend()) {
    state.ws.send(state.encoded);
    state.sent += 1;
    state.encoded = null;
  }
  if (state.pending && !state.encoding && !state.encoded) {
    const frame = state.pending;
    state.pending = null;
    state.encoding = true;
    encoder.postMessage({ frame, size: capture.width }, [frame]);
  }
}

function useStill(url, label) {
  stopReader();
  const chosen = (state.chosen += 1);
  const img = $("still");
  img.onload = () => {
    if (chosen !== state.chosen) return;  // another source was chosen while it loaded
    state.source = img; state.stillDirty = true; showSource(label);
  };
  img.onerror = () => { if (chosen === state.chosen) showError(`${label} is not an image this browser can show`); };
  $("video").hidden = true;
  img.hidden = false;
  img.src = url;
}

async function upload(file) {
  showError("");
  let response;
  try {
    response = await fetch("/api/upload", { method: "POST", body: file });
  } catch (err) {  // the server is gone or the file cannot be read
    showError(`cannot upload ${file.name}: ${err.message || err}`);
    return;
  }
  const answer = await response.json().catch(() => ({ error: `upload failed (${response.status})` }));
  if (!response.ok) { showError(answer.error || `upload failed (${response.status})`); return; }
  markPhoto(null);
  useStill(answer.url, file.name);
}

function markPhoto(number) {  // outlines the bundled photo shown (null: none is)
  document.querySelectorAll("#photos img").forEach((img, i) => img.classList.toggle("chosen", i === number));
}

function choosePhoto(number) {
  markPhoto(number);
  useStill(`/api/photos/${number}.jpg`, `bundled photo ${number}`);
}

// --- frames out -------------------------------------------------------------------------------------
function ready(source) {
  if (!source) return false;
  if (source instanceof HTMLVideoElement) return source.readyState >= 2 && source.videoWidth > 0;
  return source.complete && source.naturalWidth > 0;
}

function canSend() {  // the socket is open and fewer than two frames are in flight
  return state.ws && state.ws.readyState === WebSocket.OPEN && state.sent - state.received - state.dropped < 2;
}

// Sends a frame when it can: called on each camera frame, on each answer and on each animation frame. The camera
// goes through the encoder; a video or image element is drawn and encoded here (a still only once per change).
function sendFrame() {
  if (state.reader) { pumpCamera(); return; }
  if (!canSend()) return;
  const source = state.source;
  if (!ready(source) || (source instanceof HTMLImageElement && !state.stillDirty)) return;
  state.stillDirty = false;
  const width = source.videoWidth || source.naturalWidth, height = source.videoHeight || source.naturalHeight;
  const side = Math.min(width, height);
  captureContext.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, capture.width, capture.height);
  state.sent += 1;
  capture.toBlob((blob) => { if (blob && state.ws.readyState === WebSocket.OPEN) state.ws.send(blob); }, "image/jpeg", 0.85);
}

function loop() {
  sendFrame();
  requestAnimationFrame(loop);
}

// --- frames in --------------------------------------------------------------------------------------
function onFrame(buffer) {
  const { header, payload } = answerHeader(buffer);
  const maps = new Uint8Array(buffer, payload, header.channels * header.height * header.width);
  const fps = countAnswer(state, header);
  sendFrame();  // a slot is free: the next frame goes out before this one is drawn
  const now = state.times[state.times.length - 1];
  if (!state.fpsShown || now - state.fpsShown > 250) {  // the figure changes slowly; setting it lays out the page
    $("fps").textContent = fps > 0 ? `${fps.toFixed(1)} fps` : "still";  // one frame per change of a still: no rate to show
    state.fpsShown = now;
  }
  drawGrid(header, maps);
  if (header.classes) drawClasses(header.classes);
  if (header.classes) drawWhy(header.why, header.classes, header.layer);
  drawUnit(header, maps, new Uint8Array(buffer, payload + maps.length));
}

// A map byte's colour, as RGB triples: grey for a rectified layer (black is zero, brighter is stronger); for a signed
// layer 128 is zero (black), blue below it and orange above, brighter the further from zero.
const GREY = new Uint8Array(256 * 3).map((_, i) => Math.floor(i / 3));
const DIVERGING = new Uint8Array(256 * 3);
for (let v = 0; v < 256; v += 1) {
  const t = Math.min(1, Math.abs(v - 128) / 127), colour = v < 128 ? [70, 150, 255] : [255, 140, 0];
  DIVERGING.set(colour.map((k) => Math.round(k * t)), 3 * v);
}
const palette = (header) => (header.signed ? DIVERGING : GREY);

function mapImage(context, bytes, width, height, offset, table) {  // one channel as an opaque ImageData
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i += 1) {
    const v = 3 * bytes[offset + i];
    image.data[4 * i] = table[v]; image.data[4 * i + 1] = table[v + 1]; image.data[4 * i + 2] = table[v + 2]; image.data[4 * i + 3] = 255;
  }
  return image;
}

function showLegend(signed) {  // says how to read the tiles, next to the grid
  const legend = $("grid-legend"), swatch = (kind) => Object.assign(document.createElement("span"), { className: `swatch ${kind}` });
  const parts = signed
    ? ["signed layer: blue", swatch("below"), "below zero, black", swatch("zero"), "at zero, orange", swatch("above"), "above (each tile scaled by its largest |value|)"]
    : ["rectified layer: brighter is stronger", swatch("low"), "zero", swatch("high"), "the tile's peak"];
  legend.replaceChildren(...parts.map((part) => (typeof part === "string" ? document.createTextNode(` ${part} `) : part)));
  legend.dataset.signed = String(signed);
}

// The grid is one canvas of tiles (one per channel, 1-pixel gaps): one putImageData a frame, however many channels.
function drawGrid(header, maps) {
  const grid = $("grid");
  const canvas = $("grid-canvas");
  const { channels, height, width } = header;
  const cols = Math.max(1, Math.ceil(Math.sqrt((channels * height) / width * 1.6)));
  const rows = Math.ceil(channels / cols);
  if (canvas.dataset.layer !== header.layer || Number(canvas.dataset.channels) !== channels) {
    canvas.width = cols * (width + 1) - 1;
    canvas.height = rows * (height + 1) - 1;
    Object.assign(canvas.dataset, { layer: header.layer, channels, cols, rows, tileWidth: width, tileHeight: height });
    $("layer-name").textContent = header.layer;
    showLayerKind(header.layer);
    state.gridImage = canvas.getContext("2d").createImageData(canvas.width, canvas.height);
  }
  if (canvas.dataset.signed !== String(Boolean(header.signed))) {
    canvas.dataset.signed = String(Boolean(header.signed));
    showLegend(Boolean(header.signed));
  }
  const table = palette(header), image = state.gridImage, data = image.data, stride = canvas.width, size = height * width;
  data.fill(0);
  for (let c = 0; c < channels; c += 1) {
    const x0 = (c % cols) * (width + 1), y0 = Math.floor(c / cols) * (height + 1);
    for (let y = 0; y < height; y += 1) {
      let out = 4 * ((y0 + y) * stride + x0), from = c * size + y * width;
      for (let x = 0; x < width; x += 1, out += 4, from += 1) {
        const v = 3 * maps[from];
        data[out] = table[v]; data[out + 1] = table[v + 1]; data[out + 2] = table[v + 2]; data[out + 3] = 255;
      }
    }
  }
  if (state.options.unit !== null && state.options.unit < channels) {  // outline the chosen channel (green: in no palette)
    const c = state.options.unit, x0 = (c % cols) * (width + 1), y0 = Math.floor(c / cols) * (height + 1);
    const mark = (o) => { data[o] = 0; data[o + 1] = 220; data[o + 2] = 90; };
    for (let x = 0; x < width; x += 1) for (const y of [y0, y0 + height - 1]) mark(4 * (y * stride + x0 + x));
    for (let y = 0; y < height; y += 1) for (const x of [x0, x0 + width - 1]) mark(4 * ((y0 + y) * stride + x));
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  grid.dataset.frame = String(header.frame);
}

function channelAt(event) {
  const canvas = $("grid-canvas"), box = canvas.getBoundingClientRect(), d = canvas.dataset;
  const x = ((event.clientX - box.left) / box.width) * canvas.width, y = ((event.clientY - box.top) / box.height) * canvas.height;
  const col = Math.floor(x / (Number(d.tileWidth) + 1)), row = Math.floor(y / (Number(d.tileHeight) + 1));
  const channel = row * Number(d.cols) + col;
  return col < Number(d.cols) && channel < Number(d.channels) ? channel : null;
}

function drawClasses(classes) {
  $("classes").replaceChildren(...classes.map((c) => element("li", { "data-index": c.index }, `${c.label} `,
    element("span", { class: "hint" }, `${(100 * c.probability).toFixed(1)} %`))));
}

// A dictionary's layer (LAYER/NAME) holds features: directions over the layer below, not its channels.
function isDictionary(layer) { return layer.includes("/"); }

function showLayerKind(layer) {
  $("layer-kind").textContent = isDictionary(layer) ? "Features" : "Channels";
  if ($("why-hint")) $("why-hint").textContent = isDictionary(layer)
    ? "Features of this dictionary ranked by their direction's share of activation × gradient of the top class, summed over space."
    : "Channels of this layer ranked by activation × gradient of the top class, summed over space.";
}

function drawWhy(why, classes, layer) {
  if (classes && classes.length) $("why-class").textContent = classes[0].label;
  if (!why) {  // attention heads and where the class token attends are read from the model, not fed back through it
    $("why").replaceChildren(element("li", { class: "hint", "data-none": "" }, `not for ${layer}: its units are read from the model, not fed back through it`));
    return;
  }
  const top = Math.max(...why.map((w) => Math.abs(w.contribution)), 1e-12);
  $("why").replaceChildren(...why.map((w) => {
    const bar = element("span", { class: "bar" });
    bar.style.width = `${Math.round(80 * Math.abs(w.contribution) / top)}px`;
    // the channel of the layer the frame shows (the heading names the layer; the whole address in the tooltip)
    const kind = isDictionary(layer) ? "feature" : "channel";
    const item = element("li", { "data-channel": w.channel, title: `${layer}:${w.channel}` }, element("span", { class: "name" }, `${kind} ${w.channel}`), " ", bar, " ",
      element("span", { class: "hint" }, w.contribution.toFixed(3)));
    item.addEventListener("click", () => selectUnit(Number(item.dataset.channel)));
    return item;
  }));
}

function drawUnit(header, maps, projection) {
  const unit = state.options.unit;
  const overlay = $("overlay");
  if (unit === null || unit >= header.channels) {
    if (state.overlayShown) overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    state.overlayShown = false;
    return;
  }
  state.overlayShown = true;
  const size = header.height * header.width;
  const heat = document.createElement("canvas");  // the unit's map in orange, its strength (above zero) as opacity
  heat.width = header.width; heat.height = header.height;
  const image = heat.getContext("2d").createImageData(header.width, header.height);
  for (let i = 0; i < size; i += 1) {
    const v = header.signed ? Math.max(0, 2 * (maps[unit * size + i] - 128)) : maps[unit * size + i];
    image.data[4 * i] = 255; image.data[4 * i + 1] = 120; image.data[4 * i + 2] = 0; image.data[4 * i + 3] = Math.round(v * 0.75);
  }
  heat.getContext("2d").putImageData(image, 0, 0);
  overlay.width = overlay.clientWidth || 224; overlay.height = overlay.clientHeight || 224;
  const context = overlay.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.drawImage(heat, 0, 0, overlay.width, overlay.height);
  const tile = document.createElement("canvas");
  tile.width = header.width; tile.height = header.height;
  tile.getContext("2d").putImageData(mapImage(tile.getContext("2d"), maps, header.width, header.height, unit * size, palette(header)), 0, 0);
  const live = $("unit-live").getContext("2d");
  live.imageSmoothingEnabled = false;
  live.drawImage(tile, 0, 0, 112, 112);
  $("unit-live").dataset.frame = String(header.frame);
  if (header.projection) {
    const [h, w, c] = header.projection;
    const picture = document.createElement("canvas");
    picture.width = w; picture.height = h;
    const pixels = picture.getContext("2d").createImageData(w, h);
    for (let i = 0; i < h * w; i += 1) {
      for (let k = 0; k < 3; k += 1) pixels.data[4 * i + k] = projection[i * c + (c === 3 ? k : 0)];
      pixels.data[4 * i + 3] = 255;
    }
    picture.getContext("2d").putImageData(pixels, 0, 0);
    $("unit-projection").getContext("2d").drawImage(picture, 0, 0, 112, 112);
    $("unit-projection").dataset.frame = String(header.frame);
  }
  if (header.unit) {
    const other = header.unit.method === "deconvnet" ? "another unit" : "deconvnet or another unit";
    const flat = header.unit.flat ? ` — a flat projection: no gradient reaches the input (the unit is zero or clipped at its peak, or ${header.unit.method} blocks it); try ${other}` : "";
    $("unit-figures").textContent = `activation ${header.unit.activation.toFixed(3)} at ${header.unit.position ? header.unit.position.join(",") : "–"} (${header.unit.method})${flat}`;
  }
}

function selectUnit(channel) {
  state.options.unit = channel;
  $("unit-panel").hidden = false;
  $("unit-title").textContent = `${state.options.layer}:${channel}`;
  sendOptions();
  if (window.featurelensUnitViews) window.featurelensUnitViews(state.options.layer, channel);
}

// --- wiring -----------------------------------------------------------------------------------------
// A fault of the page itself is said on the page, not only in the console.
window.addEventListener("error", (event) => showError(`page error: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => showError(`page error: ${(event.reason && event.reason.message) || event.reason}`));
wireChannels($("grid-canvas"), state, channelAt, selectUnit, sendOptions);
$("method").addEventListener("change", (event) => { state.options.method = event.target.value; sendOptions(); });
if ($("classes-toggle")) {
  $("classes-toggle").addEventListener("change", (event) => {
    state.options.classes = state.options.why = event.target.checked;
    document.querySelector("aside section").classList.toggle("off", !event.target.checked);
    sendOptions();
  });
}
$("source-camera").addEventListener("click", useCamera);
$("source-upload").addEventListener("change", (event) => { if (event.target.files[0]) upload(event.target.files[0]); });
$("source-video").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (!file) return;
  showError("");
  useVideo((video) => {
    video.onerror = () => { showError(`${file.name} is not a video this browser can play`); showSource(`${file.name} (not playable)`); };
    video.srcObject = null; video.src = URL.createObjectURL(file); video.loop = true;
  });
  showSource(file.name);
});
for (let i = 0; i < info.photos; i += 1) {
  const img = document.createElement("img");
  img.src = `/api/photos/${i}.jpg`;
  img.alt = `bundled photo ${i}`;
  img.addEventListener("click", () => { keepNotice(""); choosePhoto(i); });
  $("photos").appendChild(img);
}
// The address can say what to show, so a view can be bookmarked or shared: ?layer=NAME&unit=N&classes=0&source=camera
function applyAddress() {
  const asked = new URLSearchParams(location.search);
  const problems = [];
  if (asked.has("layer")) {
    const layer = asked.get("layer");
    if (info.layers.some((entry) => entry.name === layer)) $("layer").value = state.options.layer = layer;
    else problems.push(`no layer ${layer} in the menu: showing ${state.options.layer}`);
  }
  if (asked.get("classes") === "0" && $("classes-toggle")) {
    $("classes-toggle").checked = false;
    state.options.classes = state.options.why = false;
    document.querySelector("aside section").classList.add("off");
  }
  if (asked.has("unit")) {
    const unit = asked.get("unit");
    if (/^\d+$/.test(unit)) selectUnit(Number(unit));
    else problems.push(`unit ${unit} is not a channel number`);
  }
  if (problems.length) keepNotice(problems.join("; "));
  if (asked.get("source") === "camera") useCamera();
  else choosePhoto(1);
}

// Once every script has run (units.js, loaded after this one, shows a unit's stored views), as the address asks.
document.addEventListener("DOMContentLoaded", () => {
  applyAddress();
  connectLive(state, onFrame, sendOptions, () => { $("status").textContent = state.label || "connected"; });
  requestAnimationFrame(loop);
});
