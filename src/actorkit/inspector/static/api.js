// The inspector API over fetch and the live WebSocket; asks for the token on a 401.
const TOKEN_KEY = "actorkit.inspector.token";
const base = new URL("api/", document.baseURI.replace(/[^/]*$/, ""));

export class ApiError extends Error {
  constructor(body, status) {
    super(body.message || `HTTP ${status}`);
    this.body = body; this.status = status; this.code = body.code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
};

let asking = null;
export function askToken(message) {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const error = document.getElementById("token-error");
  error.hidden = !message; error.textContent = message || "";
  input.value = "";
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      token.set(input.value.trim()); asking = null; resolve();
    }, { once: true });
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return asking;
}

export async function request(method, path, body) {
  for (;;) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const t = token.get();
    if (t) headers.authorization = `Bearer ${t}`;
    const res = await fetch(new URL(path.replace(/^\//, ""), base), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
    if (res.status === 401) {
      await askToken(t ? "That token was refused." : "");
      continue;
    }
    if (!res.ok) throw new ApiError(data, res.status);
    return data;
  }
}

export const api = {
  info: () => request("GET", "info"),
  actors: (params) => request("GET", "actors?" + new URLSearchParams(params)),
  actor: (id) => request("GET", `actors/${id}`),
  setState: (id, state) => request("PUT", `actors/${id}/state`, { state }),
  call: (id, name, args, params) =>
    request("POST", `actors/${id}/actions/${encodeURIComponent(name)}`,
      params === undefined ? { args } : { args, params }),
  connections: (id) => request("GET", `actors/${id}/connections`),
  disconnect: (id, conn) => request("DELETE", `actors/${id}/connections/${encodeURIComponent(conn)}`),
  schedules: (id) => request("GET", `actors/${id}/schedules`),
  cancelSchedule: (id, sid) => request("DELETE", `actors/${id}/schedules/${encodeURIComponent(sid)}`),
  tables: (id) => request("GET", `actors/${id}/db/tables`),
  rows: (id, table, offset, limit) =>
    request("GET", `actors/${id}/db/tables/${encodeURIComponent(table)}/rows?offset=${offset}&limit=${limit}`),
  query: (id, sql, params) => request("POST", `actors/${id}/db/query`, { sql, params }),
  console: (id, code) => request("POST", `actors/${id}/console`, { code }),
  events: (params) => request("GET", "events?" + new URLSearchParams(params)),
};

function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = ""; for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Live events: reconnects with backoff; onStatus("open" | "closed" | "connecting").
export function openLive(onEvent, onStatus) {
  let delay = 250;
  const connect = () => {
    onStatus("connecting");
    const url = new URL("live", base);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const protocols = ["actorkit.inspector"];
    const t = token.get();
    if (t) protocols.push("actorkit.token." + b64url(t));
    const ws = new WebSocket(url, protocols);
    ws.onopen = () => { delay = 250; onStatus("open"); };
    ws.onmessage = (msg) => {
      const data = JSON.parse(msg.data);
      if (data.type === "error") return;
      onEvent(data);
    };
    ws.onclose = async (ev) => {
      onStatus("closed");
      if (ev.code === 4401) await askToken(token.get() ? "That token was refused." : "");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  connect();
}
