// The activation atlas's map: zoom (buttons, + and - keys, ctrl + wheel) keeping the view's centre, and the toggles
// for the class view and the dictionary's features. Served as a file: the page runs no inline script.
"use strict";
(function () {
  const stage = document.getElementById("stage");
  const map = document.getElementById("map");
  const level = document.getElementById("zoom-level");
  if (!stage || !map) return;
  const STEP = 1.5, MOST = 16;
  let scale = 1;

  function zoom(next) {
    next = Math.min(MOST, Math.max(1, next));
    const centreX = (stage.scrollLeft + stage.clientWidth / 2) / map.offsetWidth;
    const centreY = (stage.scrollTop + stage.clientHeight / 2) / map.offsetHeight;
    scale = next;
    map.style.width = (100 * scale) + "%";
    map.dataset.scale = String(scale);
    if (level) level.textContent = (Math.round(scale * 10) / 10) + "×";
    stage.scrollLeft = centreX * map.offsetWidth - stage.clientWidth / 2;
    stage.scrollTop = centreY * map.offsetHeight - stage.clientHeight / 2;
  }

  document.getElementById("zoom-in").addEventListener("click", () => zoom(scale * STEP));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(scale / STEP));
  document.getElementById("zoom-reset").addEventListener("click", () => zoom(1));
  document.addEventListener("keydown", event => {
    if (event.target instanceof HTMLInputElement) return;
    if (event.key === "+" || event.key === "=") zoom(scale * STEP);
    if (event.key === "-") zoom(scale / STEP);
  });
  stage.addEventListener("wheel", event => {
    if (!event.ctrlKey && !event.metaKey) return;
    event.preventDefault();
    zoom(event.deltaY < 0 ? scale * STEP : scale / STEP);
  }, { passive: false });

  for (const [id, name] of [["class-view", "class-view"], ["feature-view", "feature-view"]]) {
    const box = document.getElementById(id);
    if (box) box.addEventListener("change", () => map.classList.toggle(name, box.checked));
  }
})();
