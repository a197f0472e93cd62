"""Request and response models of the access routes."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from flow_engine.admin.directory import (
    DESCRIPTION_MAX,
    NAME_MAX,
    Link,
)
from flow_engine.admin.permissions import Module
from flow_engine.domain.config_base import Email, PhoneNumberId, distinct, field_errors
from flow_engine.domain.text import MULTILINE_LAYOUT, no_control
from flow_engine.web.api.registry import Input, Offset, QueryBool

T = TypeVar("T")

ACCESS = Module.ACCESS
NUMBERS = Module.NUMBERS
PAGE_MAX = 200
MEMBERS_MAX = 500  # members added, or linked, in one call
NUMBERS_MAX = 1000  # numbers linked in one call
QUERY_MAX = 100
ID_MAX = 64

Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
#: the name of a profile, a member or a token: one line, not only blanks
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=r"\S"), no_control()]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), no_control(MULTILINE_LAYOUT)]
Modules = Annotated[list[Module], Field(max_length=len(Module) * 2)]
MemberIds = Annotated[list[Id], Field(min_length=1, max_length=MEMBERS_MAX)]
LinkNumbers = Annotated[list[PhoneNumberId], Field(min_length=1, max_length=NUMBERS_MAX)]

# ---------------------------------------------------------------------- models


class Patch(Input):
    """Base of PATCH bodies: at least one field (an empty patch is a 422 on the body), and
    ``null`` only for the fields it clears (:attr:`nullable`); any other null is a 422
    naming the field, never read as "not given"."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            fields = ", ".join(type(self).model_fields)
            raise PydanticCustomError(
                "empty_patch",
                "nothing to change: give at least one of {fields}",
                {"fields": fields},
            )
        field_errors(
            type(self).__name__,
            [
                ((k,), "null", "may not be null")
                for k in type(self).model_fields
                if k in self.model_fields_set - self.nullable and getattr(self, k) is None
            ],
        )
        return self


class ProfileOut(BaseModel):
    id: str
    name: str
    description: str
    modules: list[Module]
    member_count: int = Field(description="Members holding the profile that you may see.")
    created_at: float
    updated_at: float


class ProfileList(BaseModel):
    items: list[ProfileOut]


class ProfileIn(Input):
    name: Name
    description: Description = ""
    modules: Modules = Field(default_factory=list)


class ProfilePatch(Patch):
    name: Name | None = None
    description: Description | None = None
    modules: Modules | None = None


class DeleteQuery(Input):
    dry_run: QueryBool = False


class MemberOut(BaseModel):
    id: str
    name: str
    email: str
    profile_id: str | None
    profile_name: str | None
    modules: list[Module]
    numbers: list[str] = Field(description="The member's numbers that you may see.")
    owner_of: list[str] = Field(description="Numbers they own, among those you may see.")
    created_at: float


class MemberList(BaseModel):
    items: list[MemberOut]


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int


class ProfileDeleted(BaseModel):
    profile: ProfileOut
    members_affected: list[MemberOut]
    dry_run: bool
    deleted: bool


class MembersQuery(Input):
    q: str | None = Field(None, max_length=QUERY_MAX, description="Search name or e-mail.")
    profile_id: Id | None = None
    number: PhoneNumberId | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: Offset = 0


class NewMember(Input):
    email: Email
    name: Name | None = Field(None, description="Required for a new member.")


class AddMembers(Input):
    members: Annotated[
        list[NewMember],
        Field(min_length=1, max_length=MEMBERS_MAX),
        distinct("AddMembers", lambda m: m.email, "email"),
    ]
    profile_id: Id | None = None
    numbers: Annotated[list[PhoneNumberId], Field(max_length=NUMBERS_MAX)] = Field(
        default_factory=list
    )


class AddedMember(BaseModel):
    member: MemberOut
    created: bool


class AddedMembers(BaseModel):
    items: list[AddedMember]


class MemberPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"profile_id"})

    name: Name | None = None
    email: Email | None = None
    profile_id: Id | None = Field(None, description="null removes the profile.")


class MemberDeleted(BaseModel):
    member: MemberOut
    tokens_revoked: int


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: float
    revoked_at: float | None
    prefix: str = Field(description="How the token starts: fe_<id>.")


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenIn(Input):
    name: Name


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown only in this answer.")


class AuditQuery(Input):
    number: PhoneNumberId | None = None
    actor: str | None = Field(None, max_length=QUERY_MAX)
    action: str | None = Field(None, max_length=QUERY_MAX, description="Exact, or prefix.*")
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: Offset = 0


class AuditOut(BaseModel):
    at: float
    actor: str
    action: str
    summary: str
    number: str | None
    target: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]


class LinksIn(Input):
    member_ids: MemberIds
    numbers: LinkNumbers


class LinksRemoveIn(LinksIn):
    dry_run: StrictBool = False


class NumberMembersIn(Input):
    member_ids: MemberIds


class LinksAdded(BaseModel):
    added: list[Link]


class LinksRemoved(BaseModel):
    removed: list[Link]
    dry_run: bool = False
