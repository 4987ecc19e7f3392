"""The inspector API over real HTTP against real server processes: every endpoint, in dev
mode and with a token; refused requests; validated state edits that leave the actor
untouched when refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from inspector_helpers import TOKEN, call, create, dev_server
from server_fixtures import ServerProcess

AUTH = {"authorization": f"Bearer {TOKEN}"}


def api(server: ServerProcess) -> str:
    return server.url + "/inspector/api"


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()


def refused(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body: dict[str, Any] = reply.json()
    assert set(body) == {"group", "code", "message", "metadata"}
    assert body["code"] == code
    assert body["message"]
    return body


# -- access ------------------------------------------------------------------------------


def test_inspector_is_off_without_dev_mode_or_token(actor_server: ServerProcess) -> None:
    for path in ("/inspector", "/inspector/", "/inspector/api/actors", "/inspector/api/info"):
        refused(httpx.get(actor_server.url + path), 404, "not_found")


def test_token_is_required_for_every_endpoint(guarded: ServerProcess) -> None:
    actor_id = create(guarded.url, "counter", ["t1"])
    base = api(guarded)
    requests = [
        ("GET", "/info", None),
        ("GET", "/actors", None),
        ("GET", f"/actors/{actor_id}", None),
        ("PUT", f"/actors/{actor_id}/state", {"state": {"count": 9, "history": []}}),
        ("POST", f"/actors/{actor_id}/actions/increment", {"args": [1]}),
        ("GET", f"/actors/{actor_id}/connections", None),
        ("DELETE", f"/actors/{actor_id}/connections/c1", None),
        ("GET", f"/actors/{actor_id}/schedules", None),
        ("DELETE", f"/actors/{actor_id}/schedules/s1", None),
        ("GET", f"/actors/{actor_id}/db/tables", None),
        ("GET", f"/actors/{actor_id}/db/tables/t/rows", None),
        ("POST", f"/actors/{actor_id}/db/query", {"sql": "SELECT 1"}),
        ("POST", f"/actors/{actor_id}/console", {"code": "1"}),
        ("GET", "/events", None),
    ]
    wrong_headers: list[dict[str, str]] = [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": "Bearer"},
    ]
    for method, path, body in requests:
        for headers in wrong_headers:
            reply = httpx.request(method, base + path, json=body, headers=headers)
            refused(reply, 401, "unauthorized")
    # Nothing above reached the actor: the count is untouched.
    assert call(guarded.url, actor_id, "get") == 0
    # The page itself is served (it asks for the token), and the right token works.
    page = httpx.get(guarded.url + "/inspector/")
    assert page.status_code == 200 and "actorkit inspector" in page.text
    info = ok(httpx.get(base + "/info", headers=AUTH))
    assert info["auth"] is True and info["dev"] is False and info["console"] is False
    assert ok(httpx.get(f"{base}/actors/{actor_id}", headers=AUTH))["state"]["count"] == 0


def test_console_is_refused_outside_dev_mode_even_with_the_token(guarded: ServerProcess) -> None:
    actor_id = create(guarded.url, "counter", ["console"])
    reply = httpx.post(
        f"{api(guarded)}/actors/{actor_id}/console",
        json={"code": "self.state['count'] = 99"},
        headers=AUTH,
    )
    refused(reply, 403, "forbidden")
    assert call(guarded.url, actor_id, "get") == 0


# -- actors ------------------------------------------------------------------------------


def test_actors_lists_types_and_instances_with_search_status_and_paging(
    dev: ServerProcess,
) -> None:
    ids = {k: create(dev.url, "reminder", [f"list-{k}"]) for k in ("apple", "banana", "cherry")}
    body = ok(httpx.get(api(dev) + "/actors", params={"name": "reminder"}))
    types = {t["name"]: t for t in body["types"]}
    assert set(types) == {"counter", "person", "reminder", "notebook", "lobby", "napper"}
    increment = next(a for a in types["counter"]["actions"] if a["name"] == "increment")
    assert increment["params"] == [{"name": "amount", "type": "int", "required": False}]
    listed = {a["actor_id"]: a for a in body["actors"]}
    assert set(ids.values()) <= set(listed)
    apple = listed[ids["apple"]]
    assert apple["key"] == ["list-apple"] and apple["awake"] is True
    assert apple["connections"] == 0 and apple["created_at"] > 0 and apple["woken_at"] > 0

    found = ok(httpx.get(api(dev) + "/actors", params={"q": "BANANA"}))["actors"]
    assert [a["actor_id"] for a in found] == [ids["banana"]]
    by_id = ok(httpx.get(api(dev) + "/actors", params={"q": ids["cherry"][:10]}))["actors"]
    assert [a["actor_id"] for a in by_id] == [ids["cherry"]]

    # Paging: one at a time, following `next`, visits every reminder exactly once.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"name": "reminder", "limit": "1", **({"after": cursor} if cursor else {})}
        page = ok(httpx.get(api(dev) + "/actors", params=params))
        seen += [a["actor_id"] for a in page["actors"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(set(seen)) and set(ids.values()) <= set(seen)

    refused(httpx.get(api(dev) + "/actors", params={"name": "nope"}), 400, "validation_error")
    refused(httpx.get(api(dev) + "/actors", params={"status": "dozing"}), 400, "validation_error")
    refused(httpx.get(api(dev) + "/actors", params={"limit": "0"}), 400, "validation_error")


def test_asleep_actors_are_listed_and_read_without_waking(tmp_path: Any) -> None:
    server = dev_server(tmp_path / "data")
    try:
        actor_id = create(server.url, "counter", ["sleepy"])
        call(server.url, actor_id, "increment", 7)
        server.restart()  # every actor is asleep after a restart
        asleep = ok(httpx.get(api(server) + "/actors", params={"status": "asleep"}))["actors"]
        assert [a["actor_id"] for a in asleep] == [actor_id]
        assert ok(httpx.get(api(server) + "/actors", params={"status": "awake"}))["actors"] == []
        detail = ok(httpx.get(f"{api(server)}/actors/{actor_id}"))
        assert detail["actor"]["awake"] is False
        assert detail["state"] == {"count": 7, "history": [7]}
        # Reading did not wake it.
        again = ok(httpx.get(api(server) + "/actors", params={"status": "awake"}))["actors"]
        assert again == []
    finally:
        server.stop()


def test_actor_detail_and_unknown_actor(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["detail"])
    call(dev.url, actor_id, "increment", 2)
    detail = ok(httpx.get(f"{api(dev)}/actors/{actor_id}"))
    assert detail["actor"]["actor_id"] == actor_id and detail["actor"]["name"] == "counter"
    assert detail["has_state"] is True and detail["state"] == {"count": 2, "history": [2]}
    assert detail["type"]["name"] == "counter"
    refused(httpx.get(f"{api(dev)}/actors/nope"), 404, "actor_not_found")


# -- state edits ---------------------------------------------------------------------------


def test_state_edit_is_applied_durably_and_seen_by_actions(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["edit"])
    new = {"count": 41, "history": [40, 1]}
    assert ok(httpx.put(f"{api(dev)}/actors/{actor_id}/state", json={"state": new}))["state"] == new
    assert call(dev.url, actor_id, "increment", 1) == 42
    dev.restart()  # durable: survives a restart
    assert call(dev.url, actor_id, "get") == 42


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"state": [1, 2]}, "must be an object too"),
        ({"state": "hello"}, "must be an object too"),
        ({"state": None}, "must be an object too"),
        ({"nostate": 1}, '{"state"'),
        ([1], "JSON object"),
    ],
)
def test_bad_untyped_state_edit_is_refused_and_the_actor_untouched(
    dev: ServerProcess, body: Any, reason: str
) -> None:
    actor_id = create(dev.url, "counter", ["bad-edit", uuid.uuid4().hex])
    call(dev.url, actor_id, "increment", 5)
    reply = httpx.put(f"{api(dev)}/actors/{actor_id}/state", json=body)
    err = refused(reply, 400, "validation_error")
    assert reason in err["message"]
    assert call(dev.url, actor_id, "increment", 1) == 6


def test_malformed_json_state_edit_is_refused(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["malformed"])
    reply = httpx.put(
        f"{api(dev)}/actors/{actor_id}/state",
        content=b'{"state": {"count": ',
        headers={"content-type": "application/json"},
    )
    refused(reply, 400, "invalid_request")
    assert call(dev.url, actor_id, "get") == 0


def test_typed_state_edit_is_converted_or_refused_with_the_reason(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "person", ["typed"])
    call(dev.url, actor_id, "rename", "ada")
    url = f"{api(dev)}/actors/{actor_id}/state"
    err = refused(
        httpx.put(url, json={"state": {"name": "ada", "age": "old"}}), 400, "validation_error"
    )
    assert "Expected `int`, got `str`" in err["message"] and "$.age" in err["message"]
    err = refused(httpx.put(url, json={"state": {"age": 3}}), 400, "validation_error")
    assert "name" in err["message"]
    assert call(dev.url, actor_id, "profile") == {"name": "ada", "age": 0, "tags": []}

    good = {"name": "grace", "age": 85, "tags": ["navy"]}
    assert ok(httpx.put(url, json={"state": good}))["state"] == good
    assert call(dev.url, actor_id, "profile") == good
    assert call(dev.url, actor_id, "rename", "hopper") == "hopper"
    assert ok(httpx.get(f"{api(dev)}/actors/{actor_id}"))["state"]["name"] == "hopper"


# -- actions -------------------------------------------------------------------------------


def test_call_action_returns_output_or_error(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["calls"])
    url = f"{api(dev)}/actors/{actor_id}/actions"
    body = ok(httpx.post(f"{url}/increment", json={"args": [4]}))
    assert body["output"] == 4 and body["duration_ms"] >= 0
    err = refused(httpx.post(f"{url}/fail", json={"args": []}), 400, "refused")
    assert err["metadata"] == {"why": "on purpose"}
    refused(httpx.post(f"{url}/nope", json={"args": []}), 404, "action_not_found")
    refused(httpx.post(f"{url}/increment", json={"args": ["x"]}), 400, "validation_error")
    refused(httpx.post(f"{url}/increment", json={"args": 3}), 400, "validation_error")
    assert call(dev.url, actor_id, "get") == 4


# -- connections, schedules ----------------------------------------------------------------


def test_connections_list_and_unknown_disconnect(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["conns"])
    assert ok(httpx.get(f"{api(dev)}/actors/{actor_id}/connections")) == {"connections": []}
    refused(httpx.delete(f"{api(dev)}/actors/{actor_id}/connections/ghost"), 404, "not_found")
    refused(httpx.get(f"{api(dev)}/actors/nope/connections"), 404, "actor_not_found")


def test_schedules_list_and_cancel(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "reminder", ["sched"])
    first = call(dev.url, actor_id, "remind_later", 3600, "one")
    second = call(dev.url, actor_id, "remind_later", 7200, "two")
    url = f"{api(dev)}/actors/{actor_id}/schedules"
    listed = ok(httpx.get(url))["schedules"]
    assert [(s["id"], s["action"], s["args"]) for s in listed] == [
        (first, "fire", ["one"]),
        (second, "fire", ["two"]),
    ]
    assert ok(httpx.delete(f"{url}/{first}")) == {"cancelled": first}
    assert [s["id"] for s in ok(httpx.get(url))["schedules"]] == [second]
    refused(httpx.delete(f"{url}/{first}"), 404, "not_found")
    dev.restart()  # the cancel is durable; schedules of an asleep actor are read from storage
    assert [s["id"] for s in ok(httpx.get(url))["schedules"]] == [second]


# -- database ------------------------------------------------------------------------------


def test_database_tables_rows_with_paging_and_queries(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "notebook", ["db"])
    call(dev.url, actor_id, "add", *[f"note {i}" for i in range(7)])
    base = f"{api(dev)}/actors/{actor_id}/db"
    assert ok(httpx.get(f"{base}/tables"))["tables"] == [
        {"name": "note", "type": "table", "rows": 7}
    ]
    page = ok(httpx.get(f"{base}/tables/note/rows", params={"offset": 5, "limit": 5}))
    assert page["columns"] == ["id", "text"] and page["total"] == 7
    assert page["rows"] == [{"id": 6, "text": "note 5"}, {"id": 7, "text": "note 6"}]
    refused(httpx.get(f"{base}/tables/nope/rows"), 404, "not_found")
    refused(httpx.get(f"{base}/tables/note/rows", params={"limit": 0}), 400, "validation_error")

    query = f"{base}/query"
    rows = ok(httpx.post(query, json={"sql": "SELECT text FROM note WHERE id > ?", "params": [6]}))
    assert rows == {"columns": ["text"], "rows": [{"text": "note 6"}], "truncated": False}
    # A write from the query box commits like an action's...
    ok(httpx.post(query, json={"sql": "DELETE FROM note WHERE id = 1"}))
    assert call(dev.url, actor_id, "count") == 6
    # ...and a failing statement is refused with the reason and leaves nothing behind.
    err = refused(httpx.post(query, json={"sql": "INSERT INTO nope VALUES (1)"}), 400, "sql_error")
    assert "no such table" in err["message"]
    err = refused(
        httpx.post(query, json={"sql": "DELETE FROM note; SELECT * FROM nope"}), 400, "sql_error"
    )
    refused(httpx.post(query, json={"sql": "  "}), 400, "validation_error")
    refused(httpx.post(query, json={"nosql": 1}), 400, "validation_error")
    refused(httpx.post(query, json={"sql": "SELECT 1", "params": 3}), 400, "validation_error")
    assert call(dev.url, actor_id, "count") == 6


def test_database_query_cannot_reach_other_files_or_lift_limits(
    guarded: ServerProcess, tmp_path: Any
) -> None:
    actor_id = create(guarded.url, "notebook", ["sql-guard"])
    call(guarded.url, actor_id, "add", "one")
    query = f"{api(guarded)}/actors/{actor_id}/db/query"
    main_store = Path(guarded.storage.removeprefix("sqlite:///")) / "actorkit.db"
    outside = tmp_path / "created-by-attach.db"

    def denied(sql: str) -> str:
        reply = httpx.post(query, json={"sql": sql}, headers=AUTH)
        return str(refused(reply, 400, "sql_not_allowed")["message"])

    assert "ATTACH" in denied(f"ATTACH DATABASE '{outside}' AS evil")
    assert "ATTACH" in denied(f"ATTACH DATABASE '{main_store}' AS store")
    assert "max_page_count" in denied("PRAGMA max_page_count = 2147483646")
    assert "journal_mode" in denied("PRAGMA journal_mode = DELETE")
    assert "_actorkit_state" in denied("UPDATE _actorkit_state SET epoch = 1000000")
    assert "transaction" in denied("COMMIT")
    assert "load_extension" in denied("SELECT load_extension('/tmp/x.so')")
    assert not outside.exists()
    # Introspection and the actor's own tables still work, the limit is unchanged.
    columns = ok(httpx.post(query, json={"sql": "PRAGMA table_info(note)"}, headers=AUTH))
    assert [row["name"] for row in columns["rows"]] == ["id", "text"]
    limit = ok(httpx.post(query, json={"sql": "PRAGMA max_page_count"}, headers=AUTH))
    assert limit["rows"] == [{"max_page_count": 1024 * 1024 * 1024 // 4096}]
    ok(httpx.post(query, json={"sql": "INSERT INTO note (text) VALUES ('two')"}, headers=AUTH))
    assert call(guarded.url, actor_id, "count") == 2


# -- console -------------------------------------------------------------------------------


def test_console_evaluates_inside_the_actor_in_dev_mode(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["console"])
    url = f"{api(dev)}/actors/{actor_id}/console"
    body = ok(httpx.post(url, json={"code": "self.state['count'] += 10\nprint('hi')\nself.state"}))
    assert body == {"ok": True, "repr": "{'count': 10, 'history': []}", "stdout": "hi\n"}
    assert call(dev.url, actor_id, "get") == 10  # the change was persisted like an action
    body = ok(httpx.post(url, json={"code": "await asyncio.sleep(0)\nself.key"}))
    assert body["ok"] and body["repr"] == "('console',)"
    failed = ok(httpx.post(url, json={"code": "self.state['count'] = 0\n1 / 0"}))
    assert failed["ok"] is False and "ZeroDivisionError" in failed["error"]
    assert "actorkit/" not in failed["error"]  # only the user's frames
    assert call(dev.url, actor_id, "get") == 10  # rolled back
    syntax = ok(httpx.post(url, json={"code": "def ("}))
    assert syntax["ok"] is False and "SyntaxError" in syntax["error"]
    refused(httpx.post(url, json={"code": 5}), 400, "validation_error")


# -- events --------------------------------------------------------------------------------


def test_console_database_statements_are_held_to_the_outside_rules(
    dev: ServerProcess, tmp_path: Any
) -> None:
    actor_id = create(dev.url, "notebook", ["console-sql"])
    url = f"{api(dev)}/actors/{actor_id}/console"
    outside = tmp_path / "console-attach.db"
    code = f"await self.db.execute(\"ATTACH DATABASE '{outside}' AS evil\")"
    body = ok(httpx.post(url, json={"code": code}))
    assert body["ok"] is False and body["error"].startswith("sql_not_allowed:"), body
    assert not outside.exists()
    body = ok(httpx.post(url, json={"code": "await self.db.fetch_all('PRAGMA table_info(note)')"}))
    assert body["ok"] is True and "'text'" in body["repr"]


def test_events_history_filters_by_actor(dev: ServerProcess) -> None:
    actor_id = create(dev.url, "counter", ["events"])
    call(dev.url, actor_id, "increment", 3)
    httpx.post(f"{dev.url}/actors/{actor_id}/actions/fail", json={"args": []})
    events = ok(httpx.get(f"{api(dev)}/events", params={"actor_id": actor_id}))["events"]
    assert {e["actor_id"] for e in events} == {actor_id}
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "wake" and "state" in kinds and "broadcast" in kinds
    actions = [e for e in events if e["kind"] == "action"]
    assert actions[0]["name"] == "increment" and actions[0]["args"] == [3]
    assert actions[0]["output"] == 3 and actions[0]["duration_ms"] >= 0
    assert actions[1]["name"] == "fail" and actions[1]["error"]["code"] == "refused"
    after = events[-2]["seq"]
    tail = ok(httpx.get(f"{api(dev)}/events", params={"actor_id": actor_id, "after": after}))
    assert tail["events"] == events[-1:]


def test_requests_from_another_origin_or_without_json_are_refused(dev: ServerProcess) -> None:
    """A dev server needs no token: a web page of another site must not be able to drive
    it (CORS does not stop a body-less or text/plain POST from being sent)."""
    actor_id = create(dev.url, "counter", ["csrf"])
    console = f"{api(dev)}/actors/{actor_id}/console"
    code = {"code": "self.state['count'] = 666"}
    evil = {"origin": "http://evil.example"}
    refused(httpx.post(console, json=code, headers=evil), 403, "forbidden")
    refused(httpx.get(f"{api(dev)}/actors", headers=evil), 403, "forbidden")
    for headers in ({"content-type": "text/plain"}, {}):  # {}: no Content-Type at all
        reply = httpx.post(console, content=b'{"code": "1"}', headers=headers)
        refused(reply, 415, "unsupported_media_type")
    assert call(dev.url, actor_id, "get") == 0
    # The page's own origin, and the host a reverse proxy forwards, are fine.
    ok(httpx.post(console, json={"code": "1"}, headers={"origin": dev.url}))
    forwarded = {"origin": "https://actors.example", "x-forwarded-host": "actors.example"}
    ok(httpx.post(console, json={"code": "1"}, headers=forwarded))
