"""schemathesis hooks for scripts/reliability/schemathesis_run.py: long requests stay short.

POST /v1/wait and the joins may wait up to a year (timeout_seconds), and a followed log until
its job ends: generated values are kept, but the waits are capped so that the run spends
its time on requests, not on waiting (0.1 s).
"""

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    path = case.operation.path
    if (path == "/v1/join" or path.endswith("/join")) and not isinstance(case.body, (dict, list, str, int, float)):
        case.body = {"timeout_seconds": 0.1}  # no body: no timeout
    if (path in ("/v1/wait", "/v1/join") or path.endswith("/join")) and isinstance(case.body, dict):
        timeout = case.body.get("timeout_seconds")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0.1:
            case.body["timeout_seconds"] = 0.1
        elif case.body.get("timeout_seconds") is None:
            case.body["timeout_seconds"] = 0.1
    if path.endswith("/logs") and isinstance(case.query, dict) and case.query.get("follow") in (True, 1, "true", "1"):
        case.query["follow"] = "false"
    if path.endswith("/lease") and isinstance(case.body, dict):
        wait = case.body.get("wait_seconds")
        if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0.1:
            case.body["wait_seconds"] = 0.1  # a long poll on an empty queue lasts its whole wait


def _spec_rules(spec):
    """The JobSpec rules OpenAPI 3.0 cannot state (argv[0] not empty, env names, existing
    dependencies, byte lengths, max_backoff_seconds >= backoff_seconds; docs/openapi.yaml says
    them in words), made true of generated specs: otherwise schemathesis counts their 400s as valid data refused."""
    if not isinstance(spec, dict):
        return
    argv = spec.get("argv")
    if isinstance(argv, list) and argv and argv[0] == "":
        argv[0] = "true"
    env = spec.get("env")
    if isinstance(env, dict):
        for name in [n for n in env if n == "" or "=" in n or "\x00" in n]:
            del env[name]
    retry = spec.get("retry")
    if isinstance(retry, dict):
        low, high = retry.get("backoff_seconds"), retry.get("max_backoff_seconds")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) and high < low:
            retry["backoff_seconds"], retry["max_backoff_seconds"] = high, low
    if isinstance(spec.get("after"), list):
        del spec["after"]  # generated ids name no job
    for field in ("idempotency_key", "label"):
        value = spec.get(field)
        if isinstance(value, str) and len(value.encode()) > 256:
            spec[field] = value.encode()[:256].decode(errors="ignore") or "x"


def _cap_bytes(body, field, limit):
    """A string field's limit is in UTF-8 bytes; OpenAPI's maxLength counts characters."""
    value = body.get(field) if isinstance(body, dict) else None
    if isinstance(value, str) and len(value.encode()) > limit:
        body[field] = value.encode()[:limit].decode(errors="ignore") or "x"


@schemathesis.hook("before_call")
def lease_rules(ctx, case, **kwargs):
    if case.operation.path.endswith("/lease"):
        _cap_bytes(case.body, "consumer", 200)
    if case.operation.path.endswith("/fail"):
        _cap_bytes(case.body, "error", 4096)


@schemathesis.hook("before_call")
def job_spec_rules(ctx, case, **kwargs):
    if case.operation.path == "/v1/jobs" and case.operation.method.upper() == "POST":
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("jobs"), list):
            for spec in body["jobs"]:
                _spec_rules(spec)
        else:
            _spec_rules(body)
