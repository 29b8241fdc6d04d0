"""The YouTube Data API's own description, held against the client's requests and the sandbox.

The description is the discovery document google-api-python-client installs
(`googleapiclient/discovery_cache/documents/youtube.v3.json`), loaded at run time, never copied.
A request must name a method of that document (HTTP method and path, the upload paths of
`mediaUpload` included), send only parameters the method or the document lists, with the
documented types, enums and bounds, `part` values that are properties of the method's resource,
no parameter its description calls unsupported beside another (videos.list `maxResults` with
`id`), and a body that fits the method's request schema. An answer must fit the method's response
schema: known fields, documented types and enums.

Two requests are not in the document: the OAuth token endpoint (RFC 6749) and the PUTs to a
resumable session, whose URI the server hands out (developers.google.com/youtube/v3/guides/
using_resumable_upload_protocol: `Content-Range: bytes a-b/SIZE` or `bytes */SIZE`).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from googleapiclient import discovery_cache

from integrations.sandbox.server import Request, Response, Route
from integrations.sandbox.youtube import YouTubeEmulator

DOC: dict[str, Any] = json.loads(discovery_cache.get_static_doc("youtube", "v3"))
SCHEMAS: dict[str, Any] = DOC["schemas"]
UPLOAD_TYPES = {"media", "multipart", "resumable"}
# "*Note:* This parameter is supported for use in conjunction with ... but it is not supported for
# use in conjunction with the [`id`](...) parameter." (videos.list maxResults and pageToken)
_UNSUPPORTED_WITH = re.compile(r"not supported for use in conjunction with the \[`(\w+)`\]")
_CONTENT_RANGE = re.compile(r"bytes (\d+-\d+|\*)/\d+")


@dataclass(frozen=True)
class Method:
    """One method of the document: its id, HTTP method, path patterns and description."""

    id: str
    http_method: str
    path: re.Pattern[str]
    upload_paths: tuple[str, ...]
    spec: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """A request as the document names it: the method's id, and whether it carried media."""

    method: str
    upload: bool


def _path_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\{\+?\w+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces))


def _methods(resources: dict[str, Any]) -> Iterator[Method]:
    for resource in resources.values():
        for spec in resource.get("methods", {}).values():
            protocols = spec.get("mediaUpload", {}).get("protocols", {})
            yield Method(
                spec["id"],
                spec["httpMethod"],
                _path_pattern("/" + DOC["servicePath"] + spec["path"]),
                tuple(p["path"] for p in protocols.values()),
                spec,
            )
        yield from _methods(resource.get("resources", {}))


METHODS = tuple(_methods(DOC["resources"]))


def method_for(http_method: str, path: str) -> tuple[Method, bool] | None:
    """The document's method for a request line, and whether it went to an upload path."""
    for method in METHODS:
        if method.http_method != http_method:
            continue
        if path in method.upload_paths:
            return method, True
        if method.path.fullmatch(path):
            return method, False
    return None


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    return SCHEMAS[schema["$ref"]] if "$ref" in schema else schema


def schema_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Where `value` leaves the document's schema: unknown fields, wrong types, unknown enums."""
    schema = _schema(schema)
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        problems: list[str] = []
        for key, item in value.items():
            if key in properties:
                problems += schema_problems(item, properties[key], f"{where}.{key}")
            elif extra is not None:
                problems += schema_problems(item, extra, f"{where}[{key!r}]")
            else:
                problems.append(f"{where}.{key}: not a field of {schema.get('id', 'the schema')}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not an array"]
        return [
            p
            for i, v in enumerate(value)
            for p in schema_problems(v, schema["items"], f"{where}[{i}]")
        ]
    return _scalar_problems(value, schema, where)


def _scalar_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    kind, form = schema.get("type"), schema.get("format")
    expected = {"string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if kind not in expected:
        return []  # "any"
    if not isinstance(value, expected[kind]) or (kind != "boolean" and isinstance(value, bool)):
        return [f"{where}: {value!r} is not a {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    if form in ("int64", "uint64") and not str(value).lstrip("-").isdigit():
        return [f"{where}: {value!r} is not a {form} string"]
    if form == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return [f"{where}: {value!r} is not an RFC 3339 date-time"]
    return []


def _parameter_problems(name: str, value: str, spec: dict[str, Any]) -> list[str]:
    values = value.split(",") if spec.get("repeated") else [value]
    problems: list[str] = []
    for item in values:
        if spec.get("type") == "boolean" and item not in ("true", "false"):
            problems.append(f"{name}={item!r} is not a boolean")
        elif spec.get("type") == "integer":
            if not item.lstrip("-").isdigit():
                problems.append(f"{name}={item!r} is not an integer")
            elif not int(spec.get("minimum", item)) <= int(item) <= int(spec.get("maximum", item)):
                problems.append(f"{name}={item} is outside {spec['minimum']}..{spec['maximum']}")
        if "enum" in spec and item not in spec["enum"]:
            problems.append(f"{name}={item!r} is not one of {spec['enum']}")
    return problems


def resource_schema(method: Method) -> dict[str, Any] | None:
    """The resource a method's `part` names properties of: its request, or its list's items."""
    if "request" in method.spec:
        return _schema(method.spec["request"])
    if "response" not in method.spec:
        return None
    response = _schema(method.spec["response"])
    items = response.get("properties", {}).get("items")
    return _schema(items["items"]) if items and items.get("type") == "array" else response


def query_problems(method: Method, upload: bool, query: dict[str, str]) -> list[str]:
    """Parameters the method does not list, values of the wrong kind, unsupported pairings."""
    parameters = method.spec.get("parameters", {})
    problems = [
        f"{name} is required"
        for name, spec in parameters.items()
        if spec.get("required") and name not in query
    ]
    for name, value in query.items():
        spec = parameters.get(name) or DOC["parameters"].get(name)
        if spec is None:
            problems.append(f"{name} is not a parameter of {method.id}")
            continue
        problems += _parameter_problems(name, value, spec)
        excluded = _UNSUPPORTED_WITH.search(spec.get("description", ""))
        if excluded and excluded.group(1) in query:
            problems.append(f"{name} is not supported with {excluded.group(1)}")
    if "part" in query and (resource := resource_schema(method)) is not None:
        known = set(resource.get("properties", {})) - {"kind", "etag"}
        problems += [
            f"part {p!r} is not a property of {resource['id']}"
            for p in query["part"].split(",")
            if p not in known
        ]
    if upload and query.get("uploadType") not in UPLOAD_TYPES:
        problems.append(f"an upload needs uploadType in {sorted(UPLOAD_TYPES)}")
    if not upload and "uploadType" in query:
        problems.append("uploadType without an upload path")
    return problems


def _body_json(request: Request) -> Any:
    """The request's JSON metadata: the body, or a multipart body's first part; None if none."""
    content_type = request.header("content-type") or ""
    if content_type.startswith("application/json"):
        return json.loads(request.body)
    if content_type.startswith("multipart/related"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        first = next(iter(message.iter_parts()))  # type: ignore[attr-defined]
        return json.loads(first.get_payload(decode=True))
    return None


def _session_put_problems(request: Request) -> list[str]:
    problems = [
        f"{name} is not in the session URI the server handed out"
        for name in request.query
        if name not in ("uploadType", "upload_id")
    ]
    if not _CONTENT_RANGE.fullmatch(request.header("content-range") or ""):
        problems.append(f"Content-Range {request.header('content-range')!r} is malformed")
    return problems


def _token_problems(request: Request) -> list[str]:
    form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
    needs = {"refresh_token": "refresh_token", "authorization_code": "code"}
    grant = form.get("grant_type", "")
    if grant not in needs:
        return [f"grant_type {grant!r} is not refresh_token or authorization_code"]
    return [] if needs[grant] in form else [f"the {grant} grant needs {needs[grant]}"]


def request_problems(request: Request) -> tuple[Call | None, list[str]]:
    """The document's name for one recorded request, and where it leaves the document."""
    where = f"{request.method} {request.path}"
    if (request.method, request.path) == ("POST", "/token"):
        return None, [f"{where}: {p}" for p in _token_problems(request)]
    if request.method == "PUT" and "upload_id" in request.query:
        return None, [f"{where}: {p}" for p in _session_put_problems(request)]
    found = method_for(request.method, request.path)
    if found is None:
        return None, [f"{where}: no method of the discovery document"]
    method, upload = found
    problems = query_problems(method, upload, request.query)
    body = _body_json(request)
    if body is not None:
        if "request" not in method.spec:
            problems.append(f"{method.id} takes no request body")
        else:
            problems += schema_problems(body, method.spec["request"], "body")
    return Call(method.id, upload), [f"{where} ({method.id}): {p}" for p in problems]


def answer_problems(request: Request, response: Response) -> list[str]:
    """Where a successful JSON answer leaves the response schema of the request's method."""
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    if not (200 <= response.status < 300 and is_json and isinstance(response.body, bytes)):
        return []
    path = request.path
    if request.method == "PUT" and "upload_id" in request.query:  # a session's last answer
        found = method_for("POST", path)
    elif path == "/token":
        return []
    else:
        found = method_for(request.method, path)
    if found is None or "response" not in found[0].spec:
        return [f"{request.method} {path}: an answer where the document has none"]
    method = found[0]
    problems = schema_problems(json.loads(response.body), method.spec["response"], "answer")
    return [f"{request.method} {path} ({method.id}): {p}" for p in problems]


class RecordingYouTubeEmulator(YouTubeEmulator):
    """The YouTube sandbox, also keeping every answer its handlers gave (with the request)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.answers: list[tuple[Request, Response]] = []

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        found = super().find_route(method, path)
        if found is None:
            return None
        route, groups = found

        def answer(request: Request) -> Response:
            response = route.handler(request)
            with self.lock:
                self.answers.append((request, response))
            return response

        return Route(route.method, route.pattern, answer, route.streaming), groups


def contract_problems(emulator: RecordingYouTubeEmulator) -> list[str]:
    """Every way the recorded requests and answers leave the discovery document."""
    problems = [p for request in emulator.requests for p in request_problems(request)[1]]
    problems += [
        p for request, response in emulator.answers for p in answer_problems(request, response)
    ]
    problems += [f"the sandbox saw an unsupported request: {u}" for u in emulator.unsupported]
    return problems
