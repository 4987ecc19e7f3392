"""Fuzz targets for actorkit's decoders and the servers that use them (``scripts/fuzz``).

Each target is a function of one ``bytes`` input that either returns (the input was decoded,
or refused with a documented ``ActorError``) or raises ``Crash``/any other exception, which
is a bug. ``targets.TARGETS`` lists them; ``corpus/<target>/`` holds their corpus, replayed
by ``tests/test_fuzz.py`` so that a crash found once stays fixed.
"""
