// Events tab: the actor's live event log — actions (args, output or error, duration),
// state changes, broadcasts, connects/disconnects, sleep/wake, schedules.
import { api } from "../api.js";
import { h, clear, time, short } from "../dom.js";

const KINDS = ["action", "state", "broadcast", "connect", "disconnect", "wake", "sleep", "schedule", "error"];

function describe(e) {
  switch (e.kind) {
    case "action":
      return [h("span.mono", `${e.name}(${(e.args || []).map((a) => short(a, 40)).join(", ")})`),
        e.error ? h("span.err.mono", ` ✗ ${e.error.code}: ${e.error.message}`)
          : h("span.mono.t-str", ` → ${short(e.output, 80)}`),
        h("span.muted", ` ${e.duration_ms?.toFixed(1)} ms`)];
    case "state": return h("span.mono.muted", short(e.state, 160));
    case "broadcast": return h("span.mono", `${e.event}(${(e.args || []).map((a) => short(a, 40)).join(", ")})`);
    case "connect": case "disconnect": return h("span.mono", e.conn_id || "");
    case "wake": return h("span.muted", e.created ? "created" : "woke up");
    case "schedule": return h("span.mono", `${e.action} (attempt ${e.attempt}) ${e.id}`);
    default: {
      const { seq, time: _t, kind, actor_id, actor_name, key, type, ...rest } = e;
      return h("span.mono.muted", short(rest, 160));
    }
  }
}

export function eventsPanel(ctx, root) {
  const hidden = new Set(JSON.parse(sessionStorage.getItem("actorkit.inspector.hidden") || "[]"));
  let paused = false;
  const log = h("div.event-log", { testid: "event-log" });
  const pauseBtn = h("button", { onclick: () => { paused = !paused; pauseBtn.textContent = paused ? "Resume" : "Pause"; } }, "Pause");
  const filters = KINDS.map((k) => {
    const b = h("button.chip.k-" + k + (hidden.has(k) ? "" : ".on"), { onclick: () => {
      hidden.has(k) ? hidden.delete(k) : hidden.add(k);
      b.classList.toggle("on", !hidden.has(k));
      sessionStorage.setItem("actorkit.inspector.hidden", JSON.stringify([...hidden]));
      for (const row of log.children) row.hidden = hidden.has(row.dataset.kind);
    } }, k);
    return b;
  });
  root.append(h("div.toolbar", filters, h("span.spacer"), pauseBtn,
    h("button", { onclick: () => clear(log) }, "Clear")), log);

  function add(e) {
    const row = h("div.event.k-" + e.kind, { testid: "event-row" },
      h("span.time.mono", time(e.time)), h("span.kind", e.kind), h("span.detail", describe(e)));
    row.dataset.kind = e.kind;
    if (e.kind === "action" && e.error) row.classList.add("failed");
    row.hidden = hidden.has(e.kind);
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(row);
    while (log.children.length > 2000) log.firstChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // Live events that arrive before the history are held, then added in order, once each.
  let lastSeq = 0;
  let pending = [];
  const addOnce = (e) => { if (e.seq > lastSeq) { lastSeq = e.seq; add(e); } };
  api.events({ actor_id: ctx.actorId, limit: 500 }).then((res) => {
    res.events.forEach(addOnce);
    pending.forEach(addOnce);
    pending = null;
  });
  return {
    onEvent(e) {
      if (paused) return;
      if (pending) pending.push(e); else addOnce(e);
    },
  };
}
