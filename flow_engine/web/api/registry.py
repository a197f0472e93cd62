"""Routes of the ``/api/v1`` application, declared once with everything known about them.

Each handler is declared with :meth:`Api.route`: its method and path, the permission it
needs (``Permission``: a module, and which path parameter holds the number it acts on),
its request and response models. The same declarations register the aiohttp routes,
drive the authorization middleware (``web/api/auth.py``) and generate the OpenAPI
document (``web/api/openapi.py``), so the three cannot disagree.

A path parameter named in :data:`PATH_PARAMETERS` (``{number}``) is checked on every
route that has it, before its permission and its handler (:func:`check_path`): a bad one
is a 422 naming it, whichever route it reaches.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from flow_engine.admin.permissions import Module
from flow_engine.domain.config_base import PhoneNumberId
from flow_engine.errors import BadRequest, UnprocessableEntity, validation_message
from flow_engine.web.errors import validation_details

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")


@dataclass(frozen=True)
class Permission:
    """What a caller needs to use a route.

    ``module``: the module their profile must grant (None: any signed-in caller).
    ``any_module``: the caller needs at least one module (for lists filtered per number).
    ``number``: the path parameter holding the number acted on: the caller must be linked
    to it (with ``module``, or with any module when ``module`` is None).
    ``self_member``: the path parameter holding a member id: a member acting on themselves
    needs no module. ``public``: no token at all (the OpenAPI document).
    """

    module: Module | None = None
    any_module: bool = False
    number: str | None = None
    self_member: str | None = None
    public: bool = False

    def describe(self) -> str:
        if self.public:
            return "Public."
        parts = []
        if self.module is not None:
            parts.append(f"module `{self.module.value}`")
        elif self.any_module or self.number:
            parts.append("any module")
        else:
            parts.append("any signed-in caller")
        if self.number:
            parts.append(f"on the number `{{{self.number}}}`")
        if self.self_member:
            parts.append(f"(or the member `{{{self.self_member}}}` themselves)")
        return "Needs " + " ".join(parts) + "."


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    permission: Permission
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model class, or a type pydantic can describe
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses, same body (201 when creating)
    if_match: bool = False  # the route needs If-Match (or If-None-Match: * to create)
    errors: tuple[int, ...] = ()
    description: str = ""
    #: path parameters of :data:`PATH_PARAMETERS` this route takes as they come, unchecked
    unchecked: tuple[str, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass
class Api:
    """A set of declared routes (one per module of ``web/api``)."""

    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        permission: Permission,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        also: tuple[int, ...] = (),
        if_match: bool = False,
        errors: tuple[int, ...] = (),
        unchecked: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            op = Operation(
                method=method,
                path=path,
                handler=handler,
                permission=permission,
                summary=summary,
                tag=tag,
                body=body,
                query=query,
                response=response,
                status=status,
                also=also,
                if_match=if_match,
                errors=errors,
                description=(handler.__doc__ or "").strip(),
                unchecked=unchecked,
            )
            self.operations.append(op)
            handler.__operation__ = op  # type: ignore[attr-defined]
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.handler)


def operation_of(request: web.Request) -> Operation | None:
    op: Operation | None = getattr(request.match_info.handler, "__operation__", None)
    return op


class Input(BaseModel):
    """Base of request bodies and queries: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


#: the largest ``offset`` of a list: far past any list the engine keeps, and small enough
#: that ``offset + limit`` stays a 64-bit integer for Redis (a larger one is a 422, not a 500)
OFFSET_MAX = 1_000_000_000_000

#: A list's ``offset`` query parameter: 0 to :data:`OFFSET_MAX`.
Offset = Annotated[int, Field(ge=0, le=OFFSET_MAX)]


#: the values of a boolean query parameter (``?dry_run=true``); anything else is a 422
QUERY_BOOL_VALUES = {"true": True, "false": False}


def _query_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value not in QUERY_BOOL_VALUES:
            raise PydanticCustomError("bool_parsing", "must be true or false")
        return QUERY_BOOL_VALUES[value]
    return value


#: A boolean query parameter: ``true`` or ``false``, nothing else (not ``0``, ``no``, …).
QueryBool = Annotated[StrictBool, BeforeValidator(_query_bool)]


def parse_query(model: type[M], params: Mapping[str, str]) -> M:
    """Validate query parameters: every unknown, repeated or bad parameter is a 422
    naming it (``details[].field`` is the parameter, ``in`` is ``"query"``)."""
    details: list[dict[str, Any]] = []
    if isinstance(params, MultiMapping):
        for name in dict.fromkeys(params):
            if len(params.getall(name)) > 1:
                details.append(
                    {
                        "field": name,
                        "in": "query",
                        "message": "given more than once",
                        "type": "repeated",
                    }
                )
    try:
        parsed = model.model_validate(dict(params))
    except ValidationError as exc:
        for e in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(p) for p in e["loc"])
            message = validation_message(e)
            if e["type"] == "extra_forbidden":
                message = "a query parameter without a name" if not name else "unknown parameter"
            elif not e["loc"]:
                name = "(query)"
            details.append({"field": name, "in": "query", "message": message, "type": e["type"]})
    if details:
        raise UnprocessableEntity("invalid query parameters", details=details)
    return parsed


#: the error types of a body that is not a JSON object at all (a list, a string, …); a
#: check of the whole object (two fields that go together) is a 422 like any field's
NOT_AN_OBJECT = frozenset({"model_type", "dict_type", "model_attributes_type"})


def parse(model: type[M], raw: bytes | Mapping[str, str]) -> M:
    """Validate a body (raw JSON) or a query (a mapping, see :func:`parse_query`):
    malformed JSON or a body that is not an object is a 400, bad fields a 422; both name
    the fields in ``details``. Bodies are strict JSON: ``true`` or ``"2"`` is not a
    number, ``1`` is not a text (a query's values are texts, and :func:`parse_query`
    converts them)."""
    if not isinstance(raw, bytes):
        return parse_query(model, raw)
    try:
        return model.model_validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        details = validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            raise BadRequest("malformed JSON", details=details) from None
        if any(d["field"] == "(body)" and d["type"] in NOT_AN_OBJECT for d in details):
            raise BadRequest("expected a JSON object", details=details) from None
        raise UnprocessableEntity("invalid request", details=details) from None


async def body(request: web.Request, model: type[M]) -> M:
    return parse(model, await request.read())


#: methods whose body no route reads, and so none is checked
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NoBody(Input):
    """The body of a route declared without one: none at all, or ``{}``."""


@web.middleware
async def no_body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A route declared without a body (``body=None``) refuses one rather than ignore it:
    none and ``{}`` are fine; anything else is a 400 (not JSON, not an object) or a 422
    naming each field given, as a declared body's unknown field is."""
    op = operation_of(request)
    if (
        op is not None
        and op.body is None
        and request.method not in READ_ONLY_METHODS
        and request.body_exists
    ):
        try:
            parse(NoBody, await request.read())
        except UnprocessableEntity as exc:
            raise UnprocessableEntity(
                "this route takes no body: send none, or {}", details=exc.details
            ) from None
    return await handler(request)


def query(request: web.Request, model: type[M]) -> M:
    return parse_query(model, request.query)


#: Path parameters with the same meaning on every route, and what each must be. Every
#: declared route with one checks it (:func:`check_path`) unless it declares it
#: ``unchecked``; the OpenAPI document gives its schema.
PATH_PARAMETERS: dict[str, TypeAdapter[Any]] = {"number": TypeAdapter(PhoneNumberId)}

#: the name of each ``{name}`` or ``{name:regex}`` of a route's path
PATH_PARAM_NAME = re.compile(r"\{([^{}:]+)(?::[^{}]+)?\}")


def _path_details(name: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": name, "in": "path", "message": validation_message(e), "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def checked_path_parameters(op: Operation) -> dict[str, TypeAdapter[Any]]:
    """The parameters of :data:`PATH_PARAMETERS` that ``op``'s path has and checks."""
    names = set(PATH_PARAM_NAME.findall(op.path))
    return {n: k for n, k in PATH_PARAMETERS.items() if n in names and n not in op.unchecked}


def check_path(op: Operation, match: Mapping[str, str]) -> None:
    """A 422 naming every bad path parameter of :data:`PATH_PARAMETERS` the route checks
    (``details[].field`` is the parameter, ``in`` is ``"path"``), like a bad query
    parameter."""
    details: list[dict[str, Any]] = []
    for name, kind in checked_path_parameters(op).items():
        try:
            kind.validate_python(match.get(name, ""), strict=True)
        except ValidationError as exc:
            details.extend(_path_details(name, exc))
    if details:
        raise UnprocessableEntity("invalid path parameter", details=details)


def path_param(request: web.Request, name: str, kind: TypeAdapter[V]) -> V:
    """A path parameter checked as ``kind``: a bad one is a 422 naming it (``details[].field``
    is the parameter, ``in`` is ``"path"``), like a bad query parameter."""
    try:
        return kind.validate_python(request.match_info[name], strict=True)
    except ValidationError as exc:
        raise UnprocessableEntity(
            "invalid path parameter", details=_path_details(name, exc)
        ) from None


def json(
    model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=model.model_dump_json(),
        status=status,
        content_type="application/json",
        headers=headers,
    )
