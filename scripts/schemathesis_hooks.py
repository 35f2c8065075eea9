"""Hooks for scripts/fuzz-api (schemathesis 4.32.5, loaded through SCHEMATHESIS_HOOKS).

schemathesis learns links between operations from URLs it finds in 2xx response bodies, and
parses every string there that starts with http:// or https:// with urllib's `urlsplit`. That
raises ValueError for text such as `http://[x` (an unclosed IPv6 bracket), which the fuzzer itself
makes up for a step's or a source's URL and the API echoes back in the workflow it stored; the
ValueError ends the whole run with an internal error. A string that is not a URL is simply not
a link: this hook makes the parse say so. No check is changed.
"""

from schemathesis.engine import observations

_same_origin_path = observations._same_origin_path


def _same_origin_path_or_none(value, origin):
    try:
        return _same_origin_path(value, origin)
    except ValueError:
        return None


observations._same_origin_path = _same_origin_path_or_none
