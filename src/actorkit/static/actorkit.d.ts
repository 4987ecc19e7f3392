// Types for /actorkit.js, the actorkit browser client.

export type Key = string | string[];
export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "closed";

/** A failed call: the wire error `{group, code, message, metadata}`. */
export declare class ActorError extends Error {
  readonly group: string;
  readonly code: string;
  readonly metadata: unknown;
  constructor(group: string, code: string, message: string, metadata?: unknown);
  static fromWire(e: { group?: string; code?: string; message?: string; metadata?: unknown }): ActorError;
}

/** Keyword arguments for an action, passed last: `await handle.add(kwargs({ text: "milk" }))`. */
export declare class Kwargs {
  readonly values: Record<string, unknown>;
  constructor(values: Record<string, unknown>);
}
export declare function kwargs(values: Record<string, unknown>): Kwargs;

export interface HandleOptions {
  /** Input for create hooks (getOrCreate / create only). */
  input?: unknown;
  /** Connection params, sent with each stateless call and used by `connect()`. */
  params?: unknown;
}

/** Any other property is an action: `await handle.increment(1)`. */
export type Actions = { [action: string]: (...args: any[]) => Promise<any> };

export declare class Client {
  readonly url: string;
  constructor(url: string);
  get(name: string, key?: Key, opts?: HandleOptions): ActorHandle & Actions;
  getOrCreate(name: string, key?: Key, opts?: HandleOptions): ActorHandle & Actions;
  /** The id alone names the actor: `getForId(actorId)`; the name may come first. */
  getForId(actorId: string, opts?: HandleOptions): ActorHandle & Actions;
  getForId(name: string, actorId: string, opts?: HandleOptions): ActorHandle & Actions;
  create(name: string, key?: Key, opts?: HandleOptions): Promise<ActorHandle & Actions>;
}

export declare class ActorHandle {
  readonly name: string;
  readonly key: string[];
  params: unknown;
  /** The actor id (creating the actor first for getOrCreate). */
  resolve(): Promise<string>;
  /** A stateless call over HTTP; a last argument `kwargs({...})` passes keywords. */
  action(name: string, ...args: unknown[]): Promise<any>;
  /** A live connection; it reconnects with backoff (250 ms → 30 s) and resumes. */
  connect(params?: unknown): ActorConnection & Actions;
}

export declare class ActorConnection {
  readonly handle: ActorHandle;
  params: unknown;
  status: ConnectionStatus;
  /** The connection id; unchanged across reconnects when the connection is resumed. */
  id: string | null;
  actorId: string | null;
  /** Waits for the connection if it is not open yet (30 s while connecting, 5 s while
   *  reconnecting); rejects with `connection_lost` after that or when the link drops.
   *  A last argument `kwargs({...})` passes keywords. */
  action(name: string, ...args: unknown[]): Promise<any>;
  /** Returns a function that unsubscribes. */
  on(event: string, callback: (...args: any[]) => void): () => void;
  once(event: string, callback: (...args: any[]) => void): () => void;
  onOpen(callback: () => void): () => void;
  onClose(callback: (code: number, reason: string) => void): () => void;
  onError(callback: (error: ActorError) => void): () => void;
  onStatusChange(callback: (status: ConnectionStatus) => void): () => void;
  dispose(): void;
}

export declare function createClient(url: string): Client;
