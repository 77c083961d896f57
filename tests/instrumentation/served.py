"""An instrumented app configured from the environment, as a user's service is: for uvicorn."""

from __future__ import annotations

import os

from instrumentation import instrument
from tests.instrumentation.apps import build_app

app = build_app(os.environ.get("TEST_SERVICE", "svc"), os.environ.get("TEST_DOWNSTREAM"))
instrument(app, os.environ.get("TEST_SERVICE", "svc"))
