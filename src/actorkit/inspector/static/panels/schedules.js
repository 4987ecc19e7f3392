// Schedules tab: pending scheduled calls (earliest first); cancel one.
import { api } from "../api.js";
import { h, clear, ago, time, short, errorBox } from "../dom.js";

export function schedulesPanel(ctx, root) {
  const body = h("div", { testid: "schedules" });
  root.append(h("div.toolbar", h("button", { onclick: () => load() }, "Refresh")), body);

  async function load() {
    let items;
    try { items = (await api.schedules(ctx.actorId)).schedules; } catch (err) {
      clear(body, errorBox(err)); return;
    }
    if (!items.length) {
      clear(body, h("div.placeholder", { testid: "no-schedules" }, "No pending schedules."));
      return;
    }
    clear(body, h("table.grid", h("thead", h("tr", ["id", "action", "args", "due", "attempts", ""].map((c) => h("th", c)))),
      h("tbody", items.map((s) => h("tr", { testid: "schedule-row" },
        h("td.mono", s.id), h("td.mono", s.action), h("td.mono", short(s.args, 80)),
        h("td", { title: new Date(s.at * 1000).toISOString() }, `${ago(s.at)} (${time(s.at)})`),
        h("td", String(s.attempt)),
        h("td", h("button.danger", { testid: "cancel-schedule", onclick: async (ev) => {
          ev.target.disabled = true;
          try { await api.cancelSchedule(ctx.actorId, s.id); } catch (err) { body.prepend(errorBox(err)); }
          load();
        } }, "Cancel")))))));
  }

  load();
  let timer = null;  // a busy actor: reload at most every half second
  return {
    onEvent(e) {
      if (timer || !["schedule", "action", "wake"].includes(e.kind)) return;
      timer = setTimeout(() => { timer = null; load(); }, 500);
    },
    dispose() { clearTimeout(timer); },
  };
}
