// The inspector shell: sidebar, actor header, tabs, and the live event feed that keeps
// everything current.
import { api, openLive } from "./api.js";
import { h, clear, keyText, ago, errorBox } from "./dom.js";
import { Sidebar } from "./sidebar.js";
import { statePanel } from "./panels/state.js";
import { actionsPanel } from "./panels/actions.js";
import { connectionsPanel } from "./panels/connections.js";
import { eventsPanel } from "./panels/events.js";
import { schedulesPanel } from "./panels/schedules.js";
import { databasePanel } from "./panels/database.js";
import { consolePanel } from "./panels/console.js";

const TABS = [
  ["state", "State", statePanel],
  ["actions", "Actions", actionsPanel],
  ["connections", "Connections", connectionsPanel],
  ["events", "Events", eventsPanel],
  ["schedules", "Schedules", schedulesPanel],
  ["database", "Database", databasePanel],
  ["console", "Console", consolePanel],
];

const app = {
  info: null,
  actorId: null,
  detail: null,
  tab: sessionStorage.getItem("actorkit.inspector.tab") || "state",
  panel: null,
};

const sidebar = new Sidebar(document.getElementById("actor-tree"), { onSelect: select });

async function select(actorId) {
  app.actorId = actorId;
  history.replaceState(null, "", "#" + actorId);
  document.getElementById("empty").hidden = true;
  document.getElementById("actor").hidden = false;
  try {
    app.detail = await api.actor(actorId);
  } catch (err) {
    clear(document.getElementById("panel"), errorBox(err));
    return;
  }
  renderHead();
  renderTabs();
  openTab(app.tab);
}

function renderHead() {
  const a = app.detail.actor;
  document.getElementById("actor-dot").className = "dot" + (a.awake ? " awake" : "");
  document.getElementById("actor-dot").dataset.awake = String(a.awake);
  document.getElementById("actor-dot").title = a.awake ? "awake" : "asleep";
  clear(document.getElementById("actor-title"), h("span.type", a.name), h("span.t-punct", " ["),
    keyText(a.key), h("span.t-punct", "]"));
  clear(document.getElementById("actor-meta"),
    h("span", { title: a.actor_id }, "id ", h("code", a.actor_id.slice(0, 12))),
    h("span", a.awake ? `awake · woken ${ago(a.woken_at)}` : "asleep"),
    h("span", `created ${ago(a.created_at)}`));
}

function renderTabs() {
  const nav = document.getElementById("tabs");
  clear(nav, TABS.filter(([id]) => id !== "console" || app.info.console).map(([id, label]) =>
    h("button.tab" + (id === app.tab ? ".active" : ""), {
      role: "tab", testid: `tab-${id}`, onclick: () => openTab(id),
    }, label)));
}

function openTab(id) {
  if (id === "console" && !app.info.console) id = "state";
  app.tab = id;
  sessionStorage.setItem("actorkit.inspector.tab", id);
  for (const b of document.querySelectorAll("#tabs .tab")) {
    b.classList.toggle("active", b.dataset.testid === `tab-${id}`);
  }
  app.panel?.dispose?.();
  const el = clear(document.getElementById("panel"));
  el.dataset.tab = id;
  const [, , make] = TABS.find(([t]) => t === id);
  app.panel = make({
    actorId: app.actorId, detail: app.detail, info: app.info,
    refresh: async () => { app.detail = await api.actor(app.actorId); renderHead(); return app.detail; },
  }, el);
}

function onLive(msg) {
  if (msg.type === "hello") { app.info.console = msg.console; return; }
  if (msg.type !== "event") return;
  const e = msg;
  if (e.kind === "wake" || e.kind === "sleep" || e.kind === "destroy") {
    sidebar.lifecycle(e.actor_name, e.actor_id, e.kind === "wake");
  }
  if (e.kind === "wake" || e.kind === "create") {
    if (!sidebar.update(e.actor_id, { awake: true })) sidebar.reloadSoon();
  } else if (e.kind === "sleep" || e.kind === "destroy") {
    sidebar.update(e.actor_id, { awake: false, connections: 0 });
    if (e.kind === "destroy") sidebar.reloadSoon();
    // Asleep, it may keep hibernating connections: the summary counts them.
    else api.actor(e.actor_id).then((r) => sidebar.update(e.actor_id, r.actor), () => {});
  } else if (e.kind === "connect" || e.kind === "disconnect") {
    const row = sidebar.rows.get(e.actor_id);
    const n = Math.max(0, Number(row?.dataset.conns || 0) + (e.kind === "connect" ? 1 : -1));
    sidebar.update(e.actor_id, { awake: true, connections: n });
  } else if (!sidebar.rows.has(e.actor_id) && e.kind === "action") {
    sidebar.update(e.actor_id, { awake: true });
  }
  if (e.actor_id !== app.actorId || !app.detail) return;
  if (["wake", "sleep", "connect", "disconnect"].includes(e.kind)) {
    app.detail.actor.awake = e.kind !== "sleep";
    if (e.kind === "wake") app.detail.actor.woken_at = e.time;
    renderHead();
  }
  if (e.kind === "state") app.detail.state = e.state;
  app.panel?.onEvent?.(e);
}

function setLive(status) {
  const el = document.getElementById("live-status");
  el.dataset.status = status;
  el.querySelector(".label").textContent = status === "open" ? "live" : status === "connecting" ? "connecting…" : "offline";
}

async function main() {
  app.info = await api.info();
  const mode = document.getElementById("mode");
  mode.textContent = app.info.dev ? "dev" : "token";
  mode.classList.add(app.info.dev ? "dev" : "prod");
  mode.title = `actorkit ${app.info.version}`;
  await sidebar.reload();
  openLive(onLive, setLive);
  setInterval(() => { if (app.detail) renderHead(); }, 5000);
  const wanted = location.hash.slice(1);
  if (wanted) sidebar.select(wanted);
}

main();
