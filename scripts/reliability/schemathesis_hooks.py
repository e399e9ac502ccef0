"""schemathesis hooks for scripts/reliability/schemathesis_run.py: long requests stay short.

POST /v1/wait and the joins may wait up to a year (timeout_seconds), and a followed log until
its job ends: generated values are kept, but the waits are capped at 2 s so that the run spends
its time on requests, not on waiting.
"""

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    path = case.operation.path
    if (path in ("/v1/wait", "/v1/join") or path.endswith("/join")) and isinstance(case.body, dict):
        timeout = case.body.get("timeout_seconds")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 2:
            case.body["timeout_seconds"] = 2
        elif "timeout_seconds" not in case.body:
            case.body["timeout_seconds"] = 2
    if path.endswith("/logs") and isinstance(case.query, dict) and case.query.get("follow") in (True, "true"):
        case.query["follow"] = "false"
