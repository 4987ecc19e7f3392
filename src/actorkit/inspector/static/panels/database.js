// Database tab: the actor's SQLite tables, rows with paging, and a query box.
import { api } from "../api.js";
import { h, clear, errorBox } from "../dom.js";

const PAGE = 50;

function grid(columns, rows) {
  if (!rows.length) return h("div.placeholder", "No rows.");
  const cols = columns.length ? columns : Object.keys(rows[0]);
  return h("table.grid.mono", h("thead", h("tr", cols.map((c) => h("th", c)))),
    h("tbody", rows.map((r) => h("tr", cols.map((c) => {
      const v = r[c];
      return h("td" + (v === null ? ".t-null" : typeof v === "number" ? ".t-num" : ""),
        v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v));
    })))));
}

export function databasePanel(ctx, root) {
  if (!ctx.detail.type.has_db) {
    root.append(h("div.placeholder", { testid: "db-unavailable" },
      "Per-actor databases (self.db) are not available in this build."));
    return {};
  }
  const tables = h("ul.table-list", { testid: "db-tables" });
  const rowsView = h("div.rows", { testid: "db-rows" });
  const sql = h("textarea.editor.mono", { testid: "db-sql", rows: 3, spellcheck: false,
    placeholder: "SELECT * FROM ...   (Ctrl+Enter runs; runs as one turn of the actor)" });
  const out = h("div", { testid: "db-result" });
  const run = async () => {
    try {
      const res = await api.query(ctx.actorId, sql.value, []);
      clear(out, grid(res.columns, res.rows), res.truncated ? h("div.muted", "(first 1000 rows)") : null);
      loadTables();
    } catch (err) { clear(out, errorBox(err)); }
  };
  sql.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
  root.append(h("div.split", tables, h("div.db-main", rowsView,
    h("div.query", sql, h("div.row-end", h("button.primary", { testid: "db-run", onclick: run }, "Run ▶")), out))));

  async function loadTables() {
    let list;
    try { list = (await api.tables(ctx.actorId)).tables; } catch (err) { clear(tables, errorBox(err)); return; }
    clear(tables, list.length ? list.map((t) => h("li", { testid: "db-table", onclick: () => show(t.name, 0) },
      h("span.mono", t.name), h("span.count", String(t.rows)))) : h("li.none", "no tables"));
  }

  async function show(table, offset) {
    let page;
    try { page = await api.rows(ctx.actorId, table, offset, PAGE); } catch (err) { clear(rowsView, errorBox(err)); return; }
    const last = Math.min(page.total, offset + page.rows.length);
    clear(rowsView, h("div.toolbar", h("b.mono", table), h("span.spacer"),
      h("span.muted", `${page.total ? offset + 1 : 0}–${last} of ${page.total}`),
      h("button", { disabled: offset === 0, onclick: () => show(table, Math.max(0, offset - PAGE)) }, "‹ Prev"),
      h("button", { disabled: last >= page.total, onclick: () => show(table, offset + PAGE) }, "Next ›")),
      grid(page.columns, page.rows));
  }

  loadTables();
  return {};
}
