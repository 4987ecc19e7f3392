// Tiny DOM helpers: h("div.cls", {attrs}, ...children), formatting of times and values.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs); attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "testid") el.dataset.testid = v;
    else if (k in el && k !== "list") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function time(ts) {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function ago(ts) {
  if (!ts) return "—";
  const s = Date.now() / 1000 - ts;
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs.toFixed(0)} s` : abs < 3600 ? `${(abs / 60).toFixed(0)} min`
    : abs < 86400 ? `${(abs / 3600).toFixed(1)} h` : `${(abs / 86400).toFixed(1)} d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function short(value, max = 120) {
  const text = JSON.stringify(value);
  if (text === undefined) return "undefined";
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

export function keyText(key) { return key.length ? key.join(" / ") : "(no key)"; }

export function errorBox(err) {
  const body = err.body || { code: "error", message: String(err.message || err) };
  return h("div.error-box", { testid: "error-box" },
    h("span.code", body.code || "error"), " ", h("span", body.message || ""),
    body.metadata ? h("pre.mono.meta", JSON.stringify(body.metadata, null, 2)) : null);
}
