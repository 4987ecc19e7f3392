"""Typed configuration: per-actor options and registry-wide limits.

Example::

    class Room(Actor):
        options = ActorOptions(sleep_timeout=60.0, action_timeout=5.0)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_ACTION_TIMEOUT",
    "DEFAULT_DB_MAX_SIZE",
    "DEFAULT_HOOK_TIMEOUT",
    "DEFAULT_IDEMPOTENCY_MAX_KEYS",
    "DEFAULT_IDEMPOTENCY_WINDOW",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_SCHEDULES",
    "DEFAULT_RECONNECT_GRACE",
    "DEFAULT_SLEEP_GRACE",
    "DEFAULT_SLEEP_TIMEOUT",
    "ActorOptions",
    "Limits",
]

DEFAULT_SLEEP_TIMEOUT = 30.0
DEFAULT_SLEEP_GRACE = 15.0
DEFAULT_ACTION_TIMEOUT = 60.0
DEFAULT_HOOK_TIMEOUT = 5.0
DEFAULT_MAX_QUEUE = 1_000
DEFAULT_RECONNECT_GRACE = 30.0
DEFAULT_DB_MAX_SIZE = 1024 * 1024 * 1024  # bytes of the actor's SQLite database
DEFAULT_MAX_SCHEDULES = 1_000
DEFAULT_IDEMPOTENCY_WINDOW = 24 * 3600.0  # seconds a call's outcome is remembered by its key
DEFAULT_IDEMPOTENCY_MAX_KEYS = 1_000  # outcomes remembered per actor (the newest)
DEFAULT_MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True, kw_only=True)
class ActorOptions:
    """Per-actor-class options, set as the class attribute ``options``.

    - ``sleep_timeout``: idle seconds before the actor sleeps.
    - ``sleep_grace``: budget for on_sleep/on_destroy hooks and pending work.
    - ``action_timeout``: an action running longer fails with ``action_timeout`` and is
      rolled back. ``None`` disables it.
    - ``hook_timeout``: budget for lifecycle hooks (create_vars, on_wake, on_before_connect…).
    - ``state_save_interval``: ``None`` (default) makes every reply wait until the state it
      depends on is durable. A number of seconds switches to relaxed mode: state is
      persisted at most once per interval and replies are not held.
    - ``no_sleep``: never sleep for idleness.
    - ``max_connections``: live connections per actor (``None``: unlimited).
    - ``hibernate_connections``: live connections do not keep the actor awake; while it
      sleeps their sockets stay open (pings answered without waking it), and a message
      from the client wakes it. ``False``: connections keep the actor awake.
    - ``reconnect_grace``: seconds a connection whose socket broke waits for its client to
      resume it (same id, state, subscriptions) before ``on_disconnect`` runs.
    - ``max_queue``: calls waiting for their turn before new ones get ``overloaded``.
    - ``db_max_size``: bytes the actor's database (``self.db``) may grow to; beyond it
      writes fail with ``database_too_large``.
    - ``db_statement_timeout``: seconds one ``self.db`` call may run before it fails with
      ``statement_timeout``; ``None`` uses ``action_timeout``.
    - ``max_schedules``: pending scheduled calls per actor.
    - ``schedule_max_retries`` / ``schedule_retry_base``: a scheduled call that raises is
      retried after ``base · 2^(n-1)`` seconds, at most this many times.
    - ``idempotency_window``: seconds the outcome of a call made with an idempotency key
      is remembered (a repeat within it returns that outcome without running again).
    - ``idempotency_max_keys``: outcomes remembered per actor; beyond it the oldest are
      forgotten first. See ``docs/actions.md`` ("Retries and idempotency").
    """

    sleep_timeout: float = DEFAULT_SLEEP_TIMEOUT
    sleep_grace: float = DEFAULT_SLEEP_GRACE
    action_timeout: float | None = DEFAULT_ACTION_TIMEOUT
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT
    state_save_interval: float | None = None
    no_sleep: bool = False
    max_connections: int | None = None
    max_queue: int = DEFAULT_MAX_QUEUE
    reconnect_grace: float = DEFAULT_RECONNECT_GRACE
    hibernate_connections: bool = True
    db_max_size: int = DEFAULT_DB_MAX_SIZE
    db_statement_timeout: float | None = None
    max_schedules: int = DEFAULT_MAX_SCHEDULES
    schedule_max_retries: int = 6
    schedule_retry_base: float = 2.0
    idempotency_window: float = DEFAULT_IDEMPOTENCY_WINDOW
    idempotency_max_keys: int = DEFAULT_IDEMPOTENCY_MAX_KEYS

    def __post_init__(self) -> None:
        for field in ("sleep_timeout", "sleep_grace", "hook_timeout"):
            if getattr(self, field) <= 0:
                raise ValueError(f"ActorOptions.{field} must be > 0")
        if self.action_timeout is not None and self.action_timeout <= 0:
            raise ValueError("ActorOptions.action_timeout must be > 0 or None")
        if self.state_save_interval is not None and self.state_save_interval < 0:
            raise ValueError("ActorOptions.state_save_interval must be >= 0 or None")
        if self.max_queue < 1:
            raise ValueError("ActorOptions.max_queue must be >= 1")
        if self.db_max_size < 64 * 1024:
            raise ValueError("ActorOptions.db_max_size must be >= 65536 bytes")
        if self.db_statement_timeout is not None and self.db_statement_timeout <= 0:
            raise ValueError("ActorOptions.db_statement_timeout must be > 0 or None")
        if self.idempotency_window <= 0 or self.idempotency_max_keys < 1:
            raise ValueError(
                "ActorOptions.idempotency_window must be > 0 and idempotency_max_keys >= 1"
            )


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Registry-wide limits on what callers may send; each breach is a clear error."""

    max_name_length: int = 64
    max_key_part_bytes: int = 128
    max_key_bytes: int = 1024
    max_key_parts: int = 16
    max_input_bytes: int = 4 * 1024 * 1024
    max_params_bytes: int = 4 * 1024
    max_message_bytes: int = 64 * 1024
    max_outgoing_message_bytes: int = 1024 * 1024
    # Per connection: outgoing bytes queued for a slow client, actions awaiting their reply,
    # event subscriptions (each event name at most max_event_name_bytes of UTF-8).
    max_conn_buffer_bytes: int = 1024 * 1024
    max_conn_pending_actions: int = 64
    max_subscriptions: int = 1000
    max_event_name_bytes: int = 256
    max_request_body_bytes: int = 4 * 1024 * 1024  # raw HTTP bodies for on_request
    max_idempotency_key_length: int = DEFAULT_MAX_IDEMPOTENCY_KEY_LENGTH  # characters
