"""The OpenAPI 3.1 document of ``/api/v1``, generated from the route declarations.

Nothing here is written by hand: every declared route of the application serving the
document (``registry.Operation``: method, path, permission, models, status, errors)
becomes an operation, and the pydantic models become ``components.schemas`` through
one :meth:`pydantic.TypeAdapter.json_schemas` pass (so two models with the same name
get distinct component names). A route added later appears as soon as it is declared.
The document is built once per application, on the first request, and cached.
"""

from __future__ import annotations

import inspect
import json
import re
import weakref
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from flow_engine.web.api.registry import Api, Operation, Permission, checked_path_parameters

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearer"
#: errors every non-public operation may answer, besides its declared ones
STANDARD_ERRORS = (401, 403, 422)
#: a name per error answer in ``components.responses``
ERROR_RESPONSES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    422: "ValidationError",
    428: "PreconditionRequired",
}
ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, or a body that is not a JSON object.",
    401: "Missing or invalid bearer token.",
    403: "The token is valid but its access profile or numbers do not allow this.",
    404: "The resource does not exist.",
    409: "The resource's state does not allow this, or it changed meanwhile.",
    412: "If-Match names a version that is no longer current (`details.current`).",
    413: "The body is too large.",
    422: "A field is missing, unknown or invalid: `details` lists `{field, message, type}` "
    '(with `in`: `"query"` or `"path"` for a parameter).',
    428: "The operation needs If-Match (or If-None-Match: * to create).",
}
PATH_PARAM = re.compile(r"\{(?P<name>[^{}:]+)(?::(?P<regex>[^{}]+))?\}")

api = Api()


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. `validation_error`.")
    message: str = Field(description="A human-readable explanation.")
    details: Any = Field(
        description="Context of the error; for 422 a list of `{field, message, type}`."
    )


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorInfo


def _version() -> str:
    try:
        return version("flow-engine")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def _description(op: Operation) -> str:
    parts = [inspect.cleandoc(op.description)] if op.description else []
    parts.append(f"**Permission.** {op.permission.describe()}")
    return "\n\n".join(parts)


def _permission_extension(permission: Permission) -> dict[str, Any]:
    return {
        "public": permission.public,
        "module": permission.module.value if permission.module is not None else None,
        "any_module": permission.any_module,
        "number": permission.number,
        "self_member": permission.self_member,
    }


def _query_param_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A field schema as a query parameter: an absent parameter is the null, so the
    null branch of ``X | None`` and a null default are dropped."""
    out = dict(schema)
    branches = out.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) != len(branches):
            del out["anyOf"]
            if len(kept) == 1:
                out.update(kept[0])
            else:
                out["anyOf"] = kept
    if "default" in out and out["default"] is None:
        del out["default"]
    return out


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema["$ref"]
    assert isinstance(ref, str)
    return ref.rsplit("/", 1)[1]


def _path_parameters(op: Operation, path: str) -> Iterator[dict[str, Any]]:
    """The path parameters: a checked one (``registry.PATH_PARAMETERS``: ``{number}``)
    with its schema, as every route refuses it otherwise (422); others as strings."""
    patterns = {m["name"]: m["regex"] for m in PATH_PARAM.finditer(op.path)}
    checked = checked_path_parameters(op)
    for m in PATH_PARAM.finditer(path):
        name = m["name"]
        schema: dict[str, Any] = {"type": "string"}
        param: dict[str, Any] = {"name": name, "in": "path", "required": True}
        kind = checked.get(name)
        if kind is not None:
            schema = kind.json_schema()
            if "description" in schema:
                param["description"] = schema.pop("description")
        regex = patterns.get(name)
        if regex:
            schema["pattern"] = f"^(?:{regex})$"
        yield {**param, "schema": schema}


def _conditional_headers() -> list[dict[str, Any]]:
    return [
        {
            "name": "If-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of the version the change is based on "
            "(428 without it, 412 when it is stale).",
            "schema": {"type": "string"},
        },
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "`*` to create a resource that does not exist yet.",
            "schema": {"type": "string"},
        },
    ]


def _error_response(status: int, error_ref: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {"application/json": {"schema": error_ref}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "The bearer challenge.",
                "schema": {"type": "string"},
            }
        }
    return response


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors)
    if not op.permission.public:
        statuses.update(STANDARD_ERRORS)
    if op.query is not None:
        statuses.add(422)
    if op.body is not None:
        statuses.update((400, 422))
    if op.if_match:
        statuses.update((412, 428))
    return sorted(statuses)


def build_openapi(operations: Iterable[tuple[str, Operation]]) -> dict[str, Any]:
    """The OpenAPI document of ``operations``: pairs of (full path, declaration)."""
    ops = list(operations)
    inputs: list[tuple[tuple[str, int], JsonSchemaMode, TypeAdapter[Any]]] = [
        (("error", 0), "serialization", TypeAdapter(ErrorBody))
    ]
    for i, (_path, op) in enumerate(ops):
        if op.body is not None:
            inputs.append((("body", i), "validation", TypeAdapter(op.body)))
        if op.query is not None:
            inputs.append((("query", i), "validation", TypeAdapter(op.query)))
        if op.response is not None:
            inputs.append((("response", i), "serialization", TypeAdapter(op.response)))
    by_key, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))

    def schema_of(kind: str, i: int, mode: JsonSchemaMode) -> dict[str, Any]:
        return by_key[((kind, i), mode)]

    error_ref = schema_of("error", 0, "serialization")
    responses_used: dict[str, dict[str, Any]] = {}
    query_models: set[str] = set()
    paths: dict[str, dict[str, Any]] = {}
    for i, (path, op) in enumerate(ops):
        parameters = list(_path_parameters(op, path))
        if op.query is not None:
            name = _ref_name(schema_of("query", i, "validation"))
            query_models.add(name)
            model = schemas[name]
            required = set(model.get("required", []))
            for field, field_schema in model.get("properties", {}).items():
                param: dict[str, Any] = {
                    "name": field,
                    "in": "query",
                    "required": field in required,
                    "schema": _query_param_schema(field_schema),
                }
                if "description" in field_schema:
                    param["description"] = field_schema["description"]
                parameters.append(param)
        if op.if_match:
            parameters.extend(_conditional_headers())

        success: dict[str, Any] = {"description": op.summary}
        if op.response is not None:
            success["content"] = {
                "application/json": {"schema": schema_of("response", i, "serialization")}
            }
        responses: dict[str, Any] = {str(op.status): success}
        for also in op.also:  # other success statuses with the same body (201 on create)
            responses[str(also)] = {**success, "description": HTTPStatus(also).phrase}
        for status in _error_statuses(op):
            name = ERROR_RESPONSES.get(status, f"Error{status}")
            responses_used[name] = _error_response(status, error_ref)
            responses[str(status)] = {"$ref": f"#/components/responses/{name}"}

        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": _description(op),
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
            "x-permission": _permission_extension(op.permission),
        }
        if op.body is not None:
            body_model = op.body
            operation["requestBody"] = {
                "required": any(f.is_required() for f in body_model.model_fields.values()),
                "content": {"application/json": {"schema": schema_of("body", i, "validation")}},
            }
        if op.permission.public:
            operation["security"] = []
        paths.setdefault(path, {})[op.method.lower()] = operation

    # a query model lives on as parameters; keep its component only if something refers to it
    for name in sorted(query_models):
        others = {k: v for k, v in schemas.items() if k != name}
        if f'"{REF.format(model=name)}"' not in json.dumps([paths, others]):
            del schemas[name]

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "flow-engine API",
            "version": _version(),
            "description": "Admin API (numbers, configuration, templates, access) and the "
            "attendant API of flow-engine. Generated from the route declarations.",
        },
        "tags": [{"name": t} for t in sorted({op.tag for _p, op in ops})],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": dict(sorted(responses_used.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The super-admin token (FLOW_ENGINE_ADMIN_TOKEN) or a "
                    "member API token `fe_<id>_<secret>`.",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }


def declared_operations(app: web.Application) -> list[tuple[str, Operation]]:
    """The declared routes of ``app`` with their full paths (its prefix when mounted).
    Undeclared routes (refused to all but the super-admin) are not documented."""
    found: list[tuple[str, Operation]] = []
    for route in app.router.routes():
        op: Operation | None = getattr(route.handler, "__operation__", None)
        if op is not None:
            found.append((route.resource.canonical if route.resource else op.path, op))
    return found


_DOCUMENTS: weakref.WeakKeyDictionary[web.Application, bytes] = weakref.WeakKeyDictionary()


def document_of(app: web.Application) -> bytes:
    """The OpenAPI document of ``app`` as JSON, built on first use."""
    cached = _DOCUMENTS.get(app)
    if cached is None:
        cached = json.dumps(build_openapi(declared_operations(app))).encode()
        _DOCUMENTS[app] = cached
    return cached


@api.route(
    "GET",
    "/openapi.json",
    permission=Permission(public=True),
    summary="This OpenAPI document",
    tag="meta",
    response=dict[str, Any],
)
async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API, generated from the route declarations."""
    return web.Response(body=document_of(request.app), content_type="application/json")
