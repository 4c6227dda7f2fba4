// featurelens live page, unit panel: a unit's stored views (visualizations, top and bottom dataset examples with
// the crop each saw and the projection of each top example, the distribution of its activation) from the atlas
// folder, and, for what is missing, a button that builds it in the background, with progress.
"use strict";

(() => {
  const panel = document.getElementById("unit-views");
  let current = null;
  let timer = null;

  const url = (path) => (path ? `/atlas/${path}` : null);
  const escape = (text) => String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
  const running = (view) => view.jobs.some((job) => job.state === "queued" || job.state === "running");

  function images(title, entries, className) {
    const shown = entries.filter((entry) => entry.src);
    if (!shown.length) return "";
    return `<h3>${title}</h3><div class="${className}">${shown.map((e) => `<img src="${e.src}" alt="${escape(e.alt)}" title="${escape(e.alt)}">`).join("")}</div>`;
  }

  function histogram(distribution) {
    if (!distribution || !distribution.counts || !distribution.counts.length) return "";
    const counts = distribution.counts, top = Math.max(...counts, 1), width = 220, height = 48, bar = width / counts.length;
    const bars = counts.map((count, i) => `<rect x="${(i * bar).toFixed(1)}" y="${(height - (height * count) / top).toFixed(1)}" width="${Math.max(bar - 0.5, 0.5).toFixed(1)}" height="${((height * count) / top).toFixed(1)}"></rect>`).join("");
    const range = `${Number(distribution.min).toFixed(2)} … ${Number(distribution.max).toFixed(2)}, mean ${Number(distribution.mean).toFixed(2)}`;
    return `<h3>${escape(distribution.score)} over the dataset</h3><svg class="histogram" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="histogram">${bars}</svg><p class="hint">${escape(range)}</p>`;
  }

  function show(view) {
    const record = view.record || {};
    const renders = record.renders || {};
    const examples = record.examples || {};
    let html = "";
    html += images("Visualization (max, min, diverse)", [
      { src: url(renders.max), alt: "maximizes the unit" }, { src: url(renders.min), alt: "minimizes the unit" },
      ...(renders.diverse || []).map((path, i) => ({ src: url(path), alt: `diverse ${i}` })),
    ], "renders");
    html += images("Top examples (what the unit saw)", (examples.max || []).map((e) => ({ src: url(e.crop), alt: `${e.item}: ${Number(e.score).toFixed(3)}` })), "examples top");
    html += images("Their projections", (examples.max || []).map((e) => ({ src: url(e.projection), alt: `projection of ${e.item}` })), "examples projections");
    html += images("Bottom examples", (examples.min || []).map((e) => ({ src: url(e.crop), alt: `${e.item}: ${Number(e.score).toFixed(3)}` })), "examples bottom");
    html += histogram(record.distribution);
    for (const job of view.jobs) {
      const total = job.total || 0;
      html += `<div class="job" data-state="${job.state}"><span>${escape(job.description)}${job.error ? ` — ${escape(job.error)}` : ""}</span>` +
        (job.state === "failed" ? "" : `<progress ${total ? `max="${total}" value="${job.done}"` : ""}></progress>`) + "</div>";
    }
    if (view.missing.length && !running(view)) {
      html += `<button id="unit-build" type="button">Compute ${escape(view.missing.join(" and "))}</button>` +
        `<p class="hint">Runs in the background and is kept in the atlas folder, so the next visit is instant.</p>`;
    }
    if (record.page && !view.missing.length) html += `<p class="hint"><a href="${url(record.page)}" target="_blank">open in the atlas</a></p>`;
    panel.innerHTML = html;
    panel.dataset.missing = view.missing.join(",");
    panel.dataset.running = running(view) ? "yes" : "no";
    const button = document.getElementById("unit-build");
    if (button) button.addEventListener("click", () => follow(view.layer, view.channel, true));
  }

  async function load(layer, channel, build) {
    const path = `/api/unit/${encodeURIComponent(layer)}/${channel}`;
    const response = await fetch(build ? `${path}/build` : path, { method: build ? "POST" : "GET" });
    const view = await response.json();
    if (current && (current.layer !== layer || current.channel !== channel)) return null;  // another unit was chosen meanwhile
    if (!response.ok) { panel.innerHTML = `<p class="error">${escape(view.error || response.status)}</p>`; return null; }
    show(view);
    return view;
  }

  async function follow(layer, channel, build = false) {
    clearTimeout(timer);
    const view = await load(layer, channel, build);
    if (view && running(view)) timer = setTimeout(() => follow(layer, channel), 1000);
  }

  window.featurelensUnitViews = (layer, channel) => {
    current = { layer, channel };
    panel.innerHTML = "<p class=\"hint\">loading…</p>";
    follow(layer, channel);
  };
})();
