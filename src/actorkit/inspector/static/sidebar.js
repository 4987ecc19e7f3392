// The left sidebar: actor types, each with its instances (awake/asleep dot, key,
// connection count), a search box and an awake/asleep filter; paged with "more".
import { api } from "./api.js";
import { h, clear, keyText } from "./dom.js";

export class Sidebar {
  constructor(root, { onSelect }) {
    this.root = root;
    this.onSelect = onSelect;
    this.selected = null;
    this.collapsed = new Set();
    this.rows = new Map(); // actor_id -> row element
    this.awake = new Map(); // type name -> awake instances
    this.search = document.getElementById("search");
    this.status = document.getElementById("status-filter");
    let timer = null;
    this.search.addEventListener("input", () => {
      clearTimeout(timer); timer = setTimeout(() => this.reload(), 150);
    });
    this.status.addEventListener("change", () => this.reload());
  }

  reloadSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.reload(), 300);
  }

  async reload() {
    const params = { limit: 100 };
    if (this.search.value.trim()) params.q = this.search.value.trim();
    if (this.status.value) params.status = this.status.value;
    const seq = (this.seq = (this.seq || 0) + 1);
    const types = (await api.info()).types;
    const pages = await Promise.all(types.map((t) => api.actors({ ...params, name: t.name })));
    if (seq !== this.seq) return; // a newer reload won
    this.rows.clear();
    // While filtering, show only the types with a match.
    const filtering = Boolean(params.q || params.status);
    const shown = types.map((t, i) => [t, pages[i]]).filter(([, p]) => !filtering || p.actors.length);
    clear(this.root, shown.length ? shown.map(([t, p]) => this.typeGroup(t, p, params))
      : h("div.no-match", { testid: "no-match" }, "No actor matches."));
  }

  typeGroup(type, page, params) {
    const list = h("ul.instances");
    const group = h("div.type-group", { testid: `type-${type.name}` },
      h("div.type-head", {
        onclick: () => {
          this.collapsed.has(type.name) ? this.collapsed.delete(type.name) : this.collapsed.add(type.name);
          group.classList.toggle("collapsed", this.collapsed.has(type.name));
        },
      }, h("span.caret", "▾"), h("span.type-name", type.name),
        h("span.count", { title: "awake", testid: `awake-${type.name}` }, `${type.awake} awake`)),
      list);
    group.classList.toggle("collapsed", this.collapsed.has(type.name));
    this.awake.set(type.name, type.awake);
    this.fill(list, page, { ...params, name: type.name });
    return group;
  }

  fill(list, page, params) {
    for (const actor of page.actors) list.append(this.row(actor));
    if (!page.actors.length && !list.children.length) {
      list.append(h("li.none", params.q || params.status ? "no match" : "no instances"));
    }
    if (page.next) {
      const more = h("li.more", { onclick: async () => {
        more.remove();
        this.fill(list, await api.actors({ ...params, after: page.next }), params);
      } }, "more…");
      list.append(more);
    }
  }

  row(actor) {
    const el = h("li.instance", {
      testid: "actor-row", title: actor.actor_id, onclick: () => this.select(actor.actor_id),
    }, h("span.dot"), h("span.key.mono", keyText(actor.key)),
      h("span.conns", { title: "connections" }, ""));
    el.dataset.actorId = actor.actor_id;
    el.dataset.key = actor.key.join("/");
    this.rows.set(actor.actor_id, el);
    this.update(actor.actor_id, actor);
    if (actor.actor_id === this.selected) el.classList.add("selected");
    return el;
  }

  update(actorId, { awake, connections, hibernating, owner_url } = {}) {
    const el = this.rows.get(actorId);
    if (!el) return false;
    if (awake !== undefined) {
      el.classList.toggle("awake", awake);
      el.dataset.awake = String(awake);
      // In a cluster the row says which node has the actor awake.
      el.dataset.owner = owner_url || "";
      el.querySelector(".dot").title = !awake ? "asleep" : owner_url ? `awake on ${owner_url}` : "awake";
    }
    if (connections !== undefined) {
      el.dataset.conns = String(connections);
      const conns = el.querySelector(".conns");
      conns.textContent = connections ? `⇄ ${connections}` : "";
      // Hibernating: the actor sleeps, its sockets stay open and wake it on a message.
      conns.classList.toggle("hibernating", Boolean(hibernating));
      conns.title = hibernating ? `connections (${hibernating} hibernating)` : "connections";
    }
    return true;
  }

  // A wake or sleep event: adjust the type's awake count (once per actual change).
  lifecycle(typeName, actorId, awake) {
    const row = this.rows.get(actorId);
    if (row && row.dataset.awake === String(awake)) return;
    const n = Math.max(0, (this.awake.get(typeName) || 0) + (awake ? 1 : -1));
    this.awake.set(typeName, n);
    const el = this.root.querySelector(`[data-testid="awake-${typeName}"]`);
    if (el) el.textContent = `${n} awake`;
  }

  select(actorId) {
    this.selected = actorId;
    for (const [id, el] of this.rows) el.classList.toggle("selected", id === actorId);
    this.onSelect(actorId);
  }
}
