"""A plain script using the blocking client (run as a subprocess by test_client_http.py)."""

import sys

import actorkit

url = sys.argv[1]
with actorkit.Client(url) as client:
    counter = client.get_or_create("counter", ["script"])
    print(counter.increment(2))
    print(counter.action("increment", 3))
    print(counter.resolve() == client.get("counter", "script").resolve())
    try:
        counter.nope()
    except actorkit.ActorError as err:
        print(err.group, err.code)
    print(len(client.list_actors("counter")) >= 1)
