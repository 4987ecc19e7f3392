// A collapsible JSON tree, coloured by type, like the devtools object viewer.
import { h } from "./dom.js";

export function jsonTree(value, { open = 2 } = {}) {
  return h("div.tree.mono", { testid: "json-tree" }, node(null, value, 0, open));
}

function scalar(value) {
  if (value === null) return h("span.t-null", "null");
  switch (typeof value) {
    case "string": return h("span.t-str", JSON.stringify(value));
    case "number": return h("span.t-num", String(value));
    case "boolean": return h("span.t-bool", String(value));
    default: return h("span", String(value));
  }
}

function node(key, value, depth, open) {
  const label = key === null ? null : h("span.t-key", key, h("span.t-punct", ": "));
  if (value === null || typeof value !== "object") {
    return h("div.t-row", label, scalar(value));
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const summary = isArray ? `Array(${entries.length})` : `{${entries.length} ${entries.length === 1 ? "key" : "keys"}}`;
  if (!entries.length) {
    return h("div.t-row", label, h("span.t-punct", isArray ? "[]" : "{}"));
  }
  const children = h("div.t-children");
  const toggle = h("span.t-toggle", "▸");
  const row = h("div.t-row.t-branch", label, toggle, h("span.t-summary", summary));
  const wrap = h("div.t-node", row, children);
  let rendered = false;
  const set = (expanded) => {
    if (expanded && !rendered) {
      for (const [k, v] of entries) children.append(node(k, v, depth + 1, open));
      rendered = true;
    }
    wrap.classList.toggle("open", expanded);
    toggle.textContent = expanded ? "▾" : "▸";
  };
  row.addEventListener("click", () => set(!wrap.classList.contains("open")));
  set(depth < open);
  return wrap;
}
