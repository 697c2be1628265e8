// turnkeeper_trio dashboard: local times, live updates, confirmations. The pages work without it.
"use strict";
(function () {
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });

  // Show every instant in the viewer's own zone; the UTC text stays as the tooltip.
  function localTimes(root) {
    for (const el of root.querySelectorAll("time[data-local]")) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) continue;
      if (!el.title) el.title = el.textContent;
      el.textContent = format.format(when);
    }
  }

  // Ask before cancelling.
  document.addEventListener("submit", (event) => {
    const question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Reload the page's data (not the whole page) when the scheduler reports events.
  let pending = false;
  let last = 0;
  // Whether the operator is typing or choosing in a form: the page must not be swapped then.
  function editing() {
    const main = document.getElementById("main");
    if (!main) return false;
    const active = document.activeElement;
    if (active && main.contains(active) && active.matches("input, select, textarea")) return true;
    for (const field of main.querySelectorAll("input, textarea")) {
      if (field.type !== "hidden" && field.value !== field.defaultValue) return true;
    }
    for (const option of main.querySelectorAll("option")) {
      if (option.selected !== option.defaultSelected) return true;
    }
    return false;
  }

  async function refresh() {
    pending = false;
    last = Date.now();
    if (editing()) return;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
      const main = document.getElementById("main");
      // Checked again: the operator may have started typing while the page was fetched.
      if (fresh && main && !editing()) {
        localTimes(fresh);
        main.replaceWith(fresh);
      }
    } catch (error) {
      /* offline: the next event, or the refresh link, tries again */
    }
  }
  function soon() {
    if (pending) return;
    pending = true;
    window.setTimeout(refresh, Math.max(0, 1000 - (Date.now() - last)));
  }

  function live() {
    const url = document.body.getAttribute("data-events");
    const badge = document.getElementById("live");
    if (!url || !window.EventSource || !badge) return;
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      badge.dataset.state = "on";
      badge.firstChild.textContent = "live ";
    });
    source.addEventListener("update", soon);
    source.addEventListener("closed", () => {
      source.close();
      badge.dataset.state = "off";
      badge.firstChild.textContent = "scheduler stopped: ";
      soon();
    });
    source.addEventListener("error", () => {
      badge.dataset.state = "off";
      badge.firstChild.textContent = "updates paused: ";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes(document);
    live();
  });
})();
