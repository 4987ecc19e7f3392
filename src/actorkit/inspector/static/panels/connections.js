// Connections tab: open connections with their params, state and subscriptions; disconnect.
import { api } from "../api.js";
import { h, clear, ago, short, errorBox } from "../dom.js";
import { jsonTree } from "../tree.js";

export function connectionsPanel(ctx, root) {
  const body = h("div", { testid: "connections" });
  root.append(h("div.toolbar", h("button", { onclick: () => load() }, "Refresh"),
    h("span.spacer"), h("span.muted", "While the actor sleeps, hibernating connections stay open.")), body);

  async function load() {
    let conns;
    try { conns = (await api.connections(ctx.actorId)).connections; } catch (err) {
      clear(body, errorBox(err)); return;
    }
    if (!conns.length) {
      clear(body, h("div.placeholder", { testid: "no-connections" }, "No open connections."));
      return;
    }
    clear(body, h("table.grid", h("thead", h("tr", ["id", "status", "params", "state", "subscriptions", "opened", ""].map((c) => h("th", c)))),
      h("tbody", conns.map((c) => h("tr", { testid: "connection-row" },
        h("td.mono", c.id),
        h("td", h("span.pill" + (c.connected ? ".ok" : ".warn"),
          c.hibernating ? "hibernating" : c.connected ? "connected" : "reconnecting")),
        h("td", jsonTree(c.params, { open: 0 })),
        h("td", jsonTree(c.state, { open: 1 })),
        h("td.mono", c.subscriptions.join(", ") || "—"),
        h("td.muted", ago(c.created_at)),
        h("td", h("button.danger", { testid: "disconnect", onclick: async (ev) => {
          ev.target.disabled = true;
          try { await api.disconnect(ctx.actorId, c.id); } catch (err) { body.prepend(errorBox(err)); }
          load();
        } }, "Disconnect")))))));
  }

  load();
  return { onEvent(e) { if (e.kind === "connect" || e.kind === "disconnect") load(); } };
}
