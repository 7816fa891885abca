// brook console: live updates over server-sent events, table sorting and filtering, confirmations.
// Plain ES module, no dependencies: each [data-live] element is re-fetched (its URL renders only that part
// of the page) whenever /events announces a new cluster snapshot.

const tableState = new Map(); // table id -> {column, descending}

function applyTable(table) {
  if (!table) return;
  const state = tableState.get(table.id);
  const body = table.tBodies[0];
  if (state && body) {
    const type = table.tHead.rows[0].cells[state.column].dataset.sort;
    const rows = Array.from(body.rows);
    const key = (row) => {
      const cell = row.cells[state.column];
      const raw = cell ? (cell.dataset.value ?? cell.textContent) : "";
      return type === "num" ? Number(raw) || 0 : raw.toLowerCase();
    };
    rows.sort((a, b) => {
      const ka = key(a), kb = key(b);
      const order = ka < kb ? -1 : ka > kb ? 1 : 0;
      return state.descending ? -order : order;
    });
    rows.forEach((row) => body.appendChild(row));
    Array.from(table.tHead.rows[0].cells).forEach((th, i) => {
      th.classList.toggle("sorted", i === state.column);
      th.classList.toggle("desc", i === state.column && state.descending);
    });
  }
  const filter = document.querySelector(`[data-filter="${table.id}"]`);
  const internal = document.querySelector(`[data-toggle-internal="${table.id}"]`);
  const needle = filter ? filter.value.trim().toLowerCase() : "";
  for (const row of table.tBodies[0]?.rows ?? []) {
    const name = (row.dataset.topic ?? row.dataset.group ?? row.textContent).toLowerCase();
    const hiddenInternal = internal && !internal.checked && row.classList.contains("internal");
    row.hidden = Boolean(hiddenInternal) || (needle !== "" && !name.includes(needle));
  }
}

function wireTables(root) {
  for (const table of root.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
      if (!th.dataset.sort) return;
      th.addEventListener("click", () => {
        const prev = tableState.get(table.id);
        const descending = prev && prev.column === column ? !prev.descending : th.dataset.sort === "num";
        tableState.set(table.id, { column, descending });
        applyTable(table);
      });
    });
    applyTable(table);
  }
}

function showTimes(root) {
  for (const el of root.querySelectorAll("[data-epoch]")) {
    el.textContent = new Date(Number(el.dataset.epoch) * 1000).toLocaleTimeString();
  }
}

async function refreshLive() {
  for (const el of document.querySelectorAll("[data-live]")) {
    try {
      const response = await fetch(el.dataset.live, { headers: { "X-Requested-With": "brook-console" } });
      if (!response.ok) continue;
      el.innerHTML = await response.text();
      wireTables(el);
      showTimes(el);
    } catch (err) {
      setStatus(`update failed: ${err}`, true);
    }
  }
  document.body.dataset.liveVersion = String(Number(document.body.dataset.liveVersion || 0) + 1);
}

function setStatus(text, bad) {
  const status = document.getElementById("live-status");
  if (status) {
    status.textContent = text;
    status.classList.toggle("bad", Boolean(bad));
  }
}

function connect() {
  if (!document.querySelector("[data-live]")) {
    setStatus("");
    return;
  }
  const events = new EventSource("/events");
  let first = true;
  events.addEventListener("open", () => setStatus("live"));
  events.addEventListener("error", () => setStatus("reconnecting…", true));
  // a browser allows 6 connections per host: a page left behind must not keep its stream open
  window.addEventListener("pagehide", () => events.close());
  events.addEventListener("snapshot", () => {
    if (first) { first = false; return; } // the page was rendered from this snapshot already
    refreshLive();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireTables(document);
  showTimes(document);
  for (const input of document.querySelectorAll("[data-filter], [data-toggle-internal]")) {
    const target = input.dataset.filter ?? input.dataset.toggleInternal;
    input.addEventListener("input", () => applyTable(document.getElementById(target)));
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  connect();
});
