// featurelens live page: turns camera frames into JPEG off the page's main thread. A page that keeps drawing
// encodes canvases only in its idle time (17 ms a frame, measured); a worker has no drawing to wait for.
"use strict";

let canvas = null;

// {frame: VideoFrame (transferred), size}: the frame's centre square at size × size, as a JPEG Blob posted back.
onmessage = async ({ data: { frame, size } }) => {
  if (!canvas || canvas.width !== size) canvas = new OffscreenCanvas(size, size);
  const width = frame.displayWidth, height = frame.displayHeight, side = Math.min(width, height);
  canvas.getContext("2d").drawImage(frame, (width - side) / 2, (height - side) / 2, side, side, 0, 0, size, size);
  frame.close();
  postMessage(await canvas.convertToBlob({ type: "image/jpeg", quality: 0.85 }));
};
