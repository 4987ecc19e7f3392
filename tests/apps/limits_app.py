"""The counter app with tight limits, to show every limit is configurable."""

from __future__ import annotations

from counter_app import Counter  # tests/apps is on sys.path when served by file

from actorkit import Limits, Registry

registry = Registry(
    Counter,
    limits=Limits(
        max_message_bytes=200,
        max_input_bytes=100,
        max_params_bytes=20,
        max_key_parts=2,
        max_request_body_bytes=10,
    ),
)
