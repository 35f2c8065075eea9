"""Hooks for scripts/fuzz-api (schemathesis 4.32.5, loaded through SCHEMATHESIS_HOOKS).

1. A response string that is no URL does not end the run.

schemathesis learns links between operations from URLs it finds in 2xx response bodies, and
parses every string there that starts with http:// or https:// with urllib's `urlsplit`. That
raises ValueError for text such as `http://[x` (an unclosed IPv6 bracket), which the fuzzer itself
makes up for a step's or a source's URL and the API echoes back in the workflow it stored; the
ValueError ends the whole run with an internal error. A string that is not a URL is simply not
a link: this hook makes the parse say so. No check is changed.
"""

import re

import schemathesis
from schemathesis.engine import observations

_same_origin_path = observations._same_origin_path


def _same_origin_path_or_none(value, origin):
    try:
        return _same_origin_path(value, origin)
    except ValueError:
        return None


observations._same_origin_path = _same_origin_path_or_none


# 2. Rules no JSON Schema can state.
#
# A workflow's step names must differ from each other (a step's default name counts), and so must
# the names of its request fields (query parameters, headers, body paths), and body paths must
# not contradict each other (`address` a string beside `address.city`). JSON Schema compares
# whole array items (`uniqueItems`), never one member of them, so the definition schema cannot
# say this, and data it calls valid may break these rules: the API answers 400 naming the field.
# Nor can it say which hosts a URL parser takes: an IDNA label (`xn--…`) must decode, a host whose
# last label is a number must be a whole IPv4 address, `[…]` must hold an IPv6 address, a port
# must be below 65 536. An OAuth trigger's URLs are parsed when the workflow is saved, and such a
# URL is refused with 400 naming the field.
# Such a 400 to schema-valid data is dropped when every error in it is one of these rules, by the
# parser's own messages (core/src/steps/mod.rs, core/src/endpoint/request_schema.rs, core/src/oauth/mod.rs), and only
# for the operations that take a definition. schemathesis counts each dropped failure in its
# summary; any other error in the same answer keeps the failure.
UNSTATABLE = re.compile(
    r"^(duplicate step name `"
    r"|this step's default name `"
    r"|duplicate query parameter `"
    r"|duplicate header `"
    r"|duplicate body field `"
    r"|`[^`]*` treats `[^`]*` as (an array|an object), but `"
    r"|is not a valid URL: (invalid international domain name|invalid IPv[46] address"
    r"|invalid domain character|empty host|invalid port number)$)"
)
DEFINITION_OPERATIONS = {"POST /api/workflows", "PUT /api/workflows/{id}"}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) != "ST202" or case.operation.label not in DEFINITION_OPERATIONS:
        return True
    if response.status_code != 400:
        return True
    try:
        errors = response.json().get("errors") or []
    except Exception:
        return True
    messages = [e.get("message", "") for e in errors if isinstance(e, dict)]
    return not (messages and len(messages) == len(errors) and all(UNSTATABLE.match(m) for m in messages))
