// featurelens live page, unit panel: a unit's stored views (visualizations, top and bottom dataset examples with
// the crop each saw and the projection of each top example, the distribution of its activation) from the atlas
// folder, and, for what is missing, a button that builds it in the background, with progress.
// A record is read from a folder anyone may have written: its text is shown as text, its numbers only when they
// are numbers, and its paths only when they stay inside the atlas (`url`).
"use strict";

(() => {
  const panel = document.getElementById("unit-views");
  const SVG = "http://www.w3.org/2000/svg";
  let current = null;
  let timer = null;

  // A record's relative path under /atlas/; null for anything else (a scheme such as javascript:, a leading slash,
  // a ".." segment, control characters), which is then not shown.
  function url(path) {
    if (typeof path !== "string" || !path || /^[/\\]/.test(path) || /^[^/]*:/.test(path)) return null;
    if (path.split(/[/\\]/).includes("..") || /[\u0000-\u001f]/.test(path)) return null;
    return `/atlas/${path}`;
  }
  const number = (x) => (x === null || x === "" || !Number.isFinite(Number(x)) ? null : Number(x));
  const fixed = (x, digits) => (number(x) === null ? "–" : number(x).toFixed(digits));
  const list = (x) => (Array.isArray(x) ? x.filter((e) => e !== null && typeof e === "object") : []);
  const running = (view) => view.jobs.some((job) => job.state === "queued" || job.state === "running");

  function images(title, entries, className) {
    const shown = entries.filter((entry) => entry.src);
    if (!shown.length) return [];
    return [element("h3", {}, title), element("div", { class: className }, ...shown.map((e) => element("img", { src: e.src, alt: e.alt, title: e.alt })))];
  }

  // Audio units: each spectrogram with the excerpt the unit hears outlined (when there is one) and its players.
  function sounds(title, entries) {
    const shown = entries.filter((entry) => entry.picture);
    if (!shown.length) return [];
    const figure = (e) => {
      const whole = element("div", { class: "whole" }, element("img", { src: e.picture, alt: e.alt }));
      const left = number(e.outline && e.outline.left), width = number(e.outline && e.outline.width);
      if (left !== null && width !== null) {
        const outline = element("div", { class: "outline" });
        outline.style.left = `${left.toFixed(2)}%`;
        outline.style.width = `${width.toFixed(2)}%`;
        whole.append(outline);
      }
      return element("figure", { class: "clip", title: e.alt }, whole,
        e.sound ? element("audio", { class: e.whole ? "excerpt" : "render-sound", controls: "", preload: "none", src: e.sound }) : null,
        e.whole ? element("audio", { class: "whole-clip", controls: "", preload: "none", src: e.whole }) : null);
    };
    return [element("h3", {}, title), element("div", { class: "clips" }, ...shown.map(figure))];
  }

  function clips(title, entries) {
    return sounds(title, entries.map((e) => ({ picture: url(e.spectrogram), sound: url(e.excerpt), whole: url(e.clip), outline: e.outline,
      alt: `${e.item}${e.label ? ` (${e.label})` : ""}: ${fixed(e.score, 3)}, excerpt ${fixed(e.start, 2)}–${fixed(e.end, 2)} s` })));
  }

  function histogram(distribution) {
    if (!distribution || !Array.isArray(distribution.counts) || !distribution.counts.length) return [];
    const counts = distribution.counts.map((count) => number(count) || 0);
    const top = Math.max(...counts, 1), width = 220, height = 48, bar = width / counts.length;
    const svg = document.createElementNS(SVG, "svg");
    for (const [name, value] of Object.entries({ class: "histogram", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "histogram" })) {
      svg.setAttribute(name, String(value));
    }
    counts.forEach((count, i) => {
      const rect = document.createElementNS(SVG, "rect");
      const tall = (height * count) / top;
      rect.setAttribute("x", (i * bar).toFixed(1));
      rect.setAttribute("y", (height - tall).toFixed(1));
      rect.setAttribute("width", Math.max(bar - 0.5, 0.5).toFixed(1));
      rect.setAttribute("height", tall.toFixed(1));
      svg.append(rect);
    });
    const range = `${fixed(distribution.min, 2)} … ${fixed(distribution.max, 2)}, mean ${fixed(distribution.mean, 2)}`;
    return [element("h3", {}, `${distribution.score} over the dataset`), svg, element("p", { class: "hint" }, range)];
  }

  function show(view) {
    const record = view.record && typeof view.record === "object" ? view.record : {};
    const renders = record.renders && typeof record.renders === "object" ? record.renders : {};
    const examples = record.examples && typeof record.examples === "object" ? record.examples : {};
    const top = list(examples.max), bottom = list(examples.min);
    const nodes = [];
    if (record.sounds || [...top, ...bottom].some((e) => e.clip)) {  // an audio model's unit
      const played = record.sounds && typeof record.sounds === "object" ? record.sounds : {};
      nodes.push(...sounds("Sounds grown to maximize and minimize the unit", [
        { picture: url(renders.max), sound: url(played.max), alt: "maximizes the unit" }, { picture: url(renders.min), sound: url(played.min), alt: "minimizes the unit" },
      ]));
      nodes.push(...clips("Top clips (the excerpt each unit heard at its peak outlined)", top));
      nodes.push(...clips("Bottom clips", bottom));
    } else {
      const diverse = Array.isArray(renders.diverse) ? renders.diverse : [];
      nodes.push(...images("Visualization (max, min, diverse)", [
        { src: url(renders.max), alt: "maximizes the unit" }, { src: url(renders.min), alt: "minimizes the unit" },
        ...diverse.map((path, i) => ({ src: url(path), alt: `diverse ${i}` })),
      ], "renders"));
      nodes.push(...images("Top examples (what the unit saw)", top.map((e) => ({ src: url(e.crop), alt: `${e.item}: ${fixed(e.score, 3)}` })), "examples top"));
      nodes.push(...images("Their projections", top.map((e) => ({ src: url(e.projection), alt: `projection of ${e.item}` })), "examples projections"));
      nodes.push(...images("Bottom examples", bottom.map((e) => ({ src: url(e.crop), alt: `${e.item}: ${fixed(e.score, 3)}` })), "examples bottom"));
    }
    nodes.push(...histogram(record.distribution));
    for (const job of view.jobs) {
      const total = job.total || 0, active = job.state === "queued" || job.state === "running";
      const cancel = active ? element("button", { class: "cancel", type: "button", title: "stop it (what is finished is kept)" }, "Cancel") : null;
      if (cancel) cancel.addEventListener("click", () => cancelJob(job.id, view.layer, view.channel));
      nodes.push(element("div", { class: "job", "data-state": job.state }, element("span", {}, `${job.description}${job.state === "queued" ? " (queued)" : ""}${job.error ? ` — ${job.error}` : ""}`),
        active ? element("progress", total ? { max: total, value: job.done } : {}) : null, cancel));
    }
    if (view.missing.length && !running(view)) {
      nodes.push(element("button", { id: "unit-build", type: "button" }, `Compute ${view.missing.join(" and ")}`),
        element("p", { class: "hint" }, "Runs in the background and is kept in the atlas folder, so the next visit is instant."));
    }
    const page = url(record.page);
    if (page && !view.missing.length) nodes.push(element("p", { class: "hint" }, element("a", { href: page, target: "_blank", rel: "noopener" }, "open in the atlas")));
    panel.replaceChildren(...nodes);
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
    if (!response.ok) {
      const said = element("p", { class: "error" }, String(view.error || response.status));
      if (build && (await load(layer, channel, false))) panel.prepend(said);  // busy: the unit's views stay, with the reason
      else panel.replaceChildren(said);
      return null;
    }
    show(view);
    return view;
  }

  async function cancelJob(id, layer, channel) {
    await fetch(`/api/jobs/${id}/cancel`, { method: "POST" });
    follow(layer, channel);
  }

  async function follow(layer, channel, build = false) {
    clearTimeout(timer);
    const view = await load(layer, channel, build);
    if (view && running(view)) timer = setTimeout(() => follow(layer, channel), 1000);
  }

  window.featurelensUnitViews = (layer, channel) => {
    current = { layer, channel };
    panel.replaceChildren(element("p", { class: "hint" }, "loading…"));
    follow(layer, channel);
  };
})();
