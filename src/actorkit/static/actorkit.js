// actorkit browser client — an ES module served by every actorkit server at /actorkit.js.
// No build step: `import { createClient } from "/actorkit.js"`. Types: /actorkit.d.ts.
//
//   const client = createClient(location.origin);
//   const room = client.getOrCreate("chat_room", ["lobby"]);
//   const conn = room.connect({ user: "ann" });
//   conn.on("message", (msg) => console.log(msg));
//   await conn.send("hello");            // an action over the connection
//
// Protocol: docs/protocol.md (JSON frames, subprotocol "actorkit.json").

const SUBPROTOCOL = "actorkit.json";
const TERMINAL_CLOSE_CODES = new Set([4000, 4001, 4004, 4005]);
const BACKOFF_INITIAL_MS = 250;
const BACKOFF_MAX_MS = 30000;
// Calls made before the connection is open wait this long for it, then connection_lost.
const OPEN_TIMEOUT_MS = 30000; // while connecting
const RESEND_WINDOW_MS = 5000; // while reconnecting

/** A failed call: the wire error's group, code, message and metadata. */
export class ActorError extends Error {
  constructor(group, code, message, metadata) {
    super(`[${code}] ${message}`);
    this.name = "ActorError";
    this.group = group;
    this.code = code;
    this.metadata = metadata ?? null;
  }
  static fromWire(e) {
    return new ActorError(e.group ?? "internal", e.code ?? "internal_error", e.message ?? "", e.metadata);
  }
}

function connectionLost(message) {
  return new ActorError("connection", "connection_lost", message);
}

/** A random idempotency key (crypto.randomUUID needs a secure context; fall back). */
function newKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Keyword arguments for an action, passed last: `await handle.add(kwargs({ text: "milk" }))`. */
export class Kwargs {
  constructor(values) {
    this.values = { ...values };
  }
}

export function kwargs(values) {
  return new Kwargs(values);
}

/** `[positional, keywords or null]`: a trailing `kwargs(...)` holds the keywords. */
function splitArgs(args) {
  const last = args[args.length - 1];
  return last instanceof Kwargs ? [args.slice(0, -1), last.values] : [args, null];
}

function normalizeKey(key) {
  if (key === undefined || key === null) return [];
  return typeof key === "string" ? [key] : [...key];
}

/** A client for the actorkit server at `url` (e.g. `location.origin`). */
export function createClient(url) {
  return new Client(url);
}

export class Client {
  constructor(url) {
    this.url = String(url).replace(/\/+$/, "");
  }
  get(name, key, opts = {}) {
    return new ActorHandle(this, name, normalizeKey(key), "get", opts);
  }
  getOrCreate(name, key, opts = {}) {
    return new ActorHandle(this, name, normalizeKey(key), "get_or_create", opts);
  }
  /** `getForId(actorId, opts?)`, or `getForId(name, actorId, opts?)`. */
  getForId(name, actorId, opts = {}) {
    if (typeof actorId !== "string") {
      return new ActorHandle(this, "", [], null, { ...(actorId ?? {}), actorId: name });
    }
    return new ActorHandle(this, name, [], null, { ...opts, actorId });
  }
  async create(name, key, opts = {}) {
    const handle = new ActorHandle(this, name, normalizeKey(key), "create", opts);
    await handle.resolve();
    return handle;
  }
  async _fetch(method, path, body, headers = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["content-type"] = "application/json";
    }
    const res = await fetch(this.url + path, init);
    const data = await res.json().catch(() => null);
    if (!res.ok) throw ActorError.fromWire(data ?? { code: "internal_error", message: res.statusText });
    return data;
  }
}

/** A reference to one actor; actions are methods (`await handle.increment(1)`). */
export class ActorHandle {
  constructor(client, name, key, mode, opts) {
    this.client = client;
    this.name = name;
    this.key = key;
    this._mode = mode;
    this._input = opts.input;
    this.params = opts.params;
    this._actorId = opts.actorId ?? null;
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop !== "string" || prop in target || prop === "then") {
          return Reflect.get(target, prop, receiver);
        }
        return (...args) => target.action(prop, ...args);
      },
    });
  }
  async resolve() {
    if (this._actorId) return this._actorId;
    let record;
    if (this._mode === "get") {
      const q = new URLSearchParams({ name: this.name });
      for (const part of this.key) q.append("key", part);
      if (this.key.length === 0) q.append("key", "");
      record = await this.client._fetch("GET", `/actors?${q}`);
    } else {
      const body = { name: this.name, key: this.key, input: this._input ?? null };
      record = await this.client._fetch(this._mode === "create" ? "POST" : "PUT", "/actors", body);
      if (this._mode === "create") this._mode = "get";
    }
    this._actorId = record.actor_id;
    return this._actorId;
  }
  /** A stateless call over HTTP. It carries an `Idempotency-Key`, so a repeat of the
   *  same request (e.g. by a proxy) returns the first result instead of running again. */
  async action(name, ...args) {
    const id = await this.resolve();
    const [positional, keywords] = splitArgs(args);
    const body = { args: positional };
    if (keywords) body.kwargs = keywords;
    if (this.params !== undefined) body.params = this.params;
    const path = `/actors/${id}/actions/${encodeURIComponent(name)}`;
    const out = await this.client._fetch("POST", path, body, { "Idempotency-Key": newKey() });
    return out.output;
  }
  /** Open a live connection (it reconnects and resumes by itself). */
  connect(params) {
    return new ActorConnection(this, params === undefined ? this.params : params);
  }
}

/** A live connection: actions, events, reconnect with resume. Actions are methods too. */
export class ActorConnection {
  constructor(handle, params) {
    this.handle = handle;
    this.params = params ?? {};
    /** "connecting" | "connected" | "reconnecting" | "closed" */
    this.status = "connecting";
    this.id = null;
    this.actorId = null;
    this._token = null;
    this._ws = null;
    this._nextId = 0;
    this._pending = new Map();
    this._listeners = new Map();
    this._callbacks = { open: new Set(), close: new Set(), error: new Set(), status: new Set() };
    this._attempt = 0;
    this._timer = null;
    this._pingTimer = null;
    this._lastSeen = 0;
    this._pingInterval = 15;
    this._closeError = null; // why it closed, for calls that waited
    const self = new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop !== "string" || prop in target || prop === "then") {
          return Reflect.get(target, prop, receiver);
        }
        return (...args) => target.action(prop, ...args);
      },
    });
    this._open();
    return self;
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit("status", status);
  }

  async _open() {
    let actorId;
    try {
      actorId = this.actorId ?? (await this.handle.resolve());
    } catch (err) {
      if (err instanceof ActorError && err.code !== "internal_error") return this._fail(err);
      return this._scheduleReconnect();
    }
    if (this.status === "closed") return;
    this.actorId = actorId;
    const wsUrl = this.handle.client.url.replace(/^http/, "ws") + `/actors/${actorId}/connect`;
    const ws = new WebSocket(wsUrl, [SUBPROTOCOL]);
    this._ws = ws;
    let welcomed = false;
    let subscribed = [];
    ws.onopen = () => {
      subscribed = [...this._listeners.keys()];
      const init = { t: "init", params: this.params, subscriptions: subscribed };
      if (this.id && this._token) Object.assign(init, { conn_id: this.id, token: this._token });
      ws.send(JSON.stringify(init));
    };
    ws.onmessage = (ev) => {
      this._lastSeen = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!welcomed) {
        if (msg.t === "init") {
          welcomed = true;
          this.id = msg.conn_id;
          this._token = msg.token;
          this._pingInterval = msg.ping_interval;
          this._attempt = 0;
          this._startLiveness(ws);
          // on()/off() while the init was on its way sent nothing: catch up first.
          for (const event of this._listeners.keys()) {
            if (!subscribed.includes(event)) ws.send(JSON.stringify({ t: "sub", event }));
          }
          for (const event of subscribed) {
            if (!this._listeners.has(event)) ws.send(JSON.stringify({ t: "unsub", event }));
          }
          this._setStatus("connected");
          this._emit("open");
        } else if (msg.t === "error") {
          this._fail(ActorError.fromWire(msg));
        }
        return;
      }
      this._dispatch(msg, ws);
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      clearInterval(this._pingTimer);
      const err =
        ev.code === 1009
          ? new ActorError("request", "message_too_large", "a message exceeded the limit")
          : connectionLost(`the connection was lost (${ev.code} ${ev.reason})`);
      this._failPending(err);
      if (welcomed) this._emit("close", ev.code, ev.reason);
      if (this.status === "closed") return;
      if (TERMINAL_CLOSE_CODES.has(ev.code)) {
        this._closeError ??= err;
        this._setStatus("closed");
        return;
      }
      this._scheduleReconnect();
    };
  }

  _startLiveness(ws) {
    this._lastSeen = Date.now();
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(() => {
      if (Date.now() - this._lastSeen > (this._pingInterval * 2 + 5) * 1000) ws.close(4003, "liveness timeout");
    }, 1000);
  }

  _scheduleReconnect() {
    if (this.status === "closed") return;
    this._setStatus("reconnecting");
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** this._attempt++);
    this._timer = setTimeout(() => this._open(), delay * (0.75 + Math.random() * 0.25));
  }

  _fail(err) {
    this._closeError ??= err;
    this._emit("error", err);
    this._setStatus("closed");
    if (this._ws) this._ws.close(1000);
  }

  _dispatch(msg, ws) {
    if (msg.t === "event") {
      for (const cb of [...(this._listeners.get(msg.name) ?? [])]) {
        try {
          cb(...msg.args);
        } catch (e) {
          console.error("actorkit: event listener threw", e);
        }
      }
    } else if (msg.t === "result") {
      const p = this._pending.get(msg.id);
      if (p) {
        this._pending.delete(msg.id);
        p.resolve(msg.output);
      }
    } else if (msg.t === "error") {
      const err = ActorError.fromWire(msg);
      const p = msg.id == null ? null : this._pending.get(msg.id);
      if (p) {
        this._pending.delete(msg.id);
        p.reject(err);
      } else {
        this._emit("error", err);
      }
    } else if (msg.t === "ping") {
      ws.send(JSON.stringify({ t: "pong", ts: msg.ts }));
    }
  }

  _send(msg) {
    if (this._ws && this.status === "connected") this._ws.send(JSON.stringify(msg));
  }

  _failPending(err) {
    const pending = this._pending;
    this._pending = new Map();
    for (const p of pending.values()) p.reject(err);
  }

  /** Resolves once connected: at once, or within OPEN_TIMEOUT_MS while connecting
   *  (RESEND_WINDOW_MS while reconnecting); rejects with why it closed, or connection_lost. */
  _whenOpen() {
    if (this.status === "connected") return Promise.resolve();
    const closed = () => this._closeError ?? connectionLost("the connection is closed");
    if (this.status === "closed") return Promise.reject(closed());
    const ms = this.status === "connecting" ? OPEN_TIMEOUT_MS : RESEND_WINDOW_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(connectionLost(`the connection is ${this.status}: not open within ${ms / 1000} s`));
      }, ms);
      const off = this.onStatusChange((status) => {
        if (status !== "connected" && status !== "closed") return;
        clearTimeout(timer);
        off();
        if (status === "connected") resolve();
        else reject(closed());
      });
    });
  }

  /** Call action `name`; waits for the connection if it is not open yet (bounded). */
  action(name, ...args) {
    if (this.status !== "connected") return this._whenOpen().then(() => this.action(name, ...args));
    const id = ++this._nextId;
    const [positional, keywords] = splitArgs(args);
    const msg = { t: "action", id, name, args: positional };
    if (keywords) msg.kwargs = keywords;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      this._send(msg);
    });
  }

  /** Listen to `event`; returns a function that unsubscribes. */
  on(event, callback) {
    let set = this._listeners.get(event);
    if (!set) {
      set = new Set();
      this._listeners.set(event, set);
      this._send({ t: "sub", event });
    }
    set.add(callback);
    return () => {
      const current = this._listeners.get(event);
      if (!current || !current.delete(callback)) return;
      if (current.size === 0) {
        this._listeners.delete(event);
        this._send({ t: "unsub", event });
      }
    };
  }

  once(event, callback) {
    const off = this.on(event, (...args) => {
      off();
      callback(...args);
    });
    return off;
  }

  onOpen(cb) {
    return this._register("open", cb);
  }
  onClose(cb) {
    return this._register("close", cb);
  }
  onError(cb) {
    return this._register("error", cb);
  }
  onStatusChange(cb) {
    return this._register("status", cb);
  }
  _register(kind, cb) {
    this._callbacks[kind].add(cb);
    return () => this._callbacks[kind].delete(cb);
  }
  _emit(kind, ...args) {
    for (const cb of [...this._callbacks[kind]]) {
      try {
        cb(...args);
      } catch (e) {
        console.error("actorkit: callback threw", e);
      }
    }
  }

  /** Close the connection for good (the actor runs on_disconnect at once). */
  dispose() {
    clearTimeout(this._timer);
    clearInterval(this._pingTimer);
    this._closeError ??= connectionLost("the connection was closed");
    this._setStatus("closed");
    this._failPending(connectionLost("the connection was closed"));
    if (this._ws) this._ws.close(1000, "client closed");
  }
}
