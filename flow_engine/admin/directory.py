"""The access directory (R-ADMIN-1 … R-ADMIN-4): access profiles, members, their links to
numbers, number owners and member API tokens — one document, changed by pure functions.

Every operation takes the acting :class:`Principal` and refuses (``Forbidden``) what it
may not do, so nobody can raise their own rights:

* a member links and unlinks only numbers linked to them;
* they never grant (to a profile or a member) a module their own profile lacks;
* they manage (edit, delete, assign a profile to, create or revoke tokens of) only members
  whose rights are within theirs: every module and every number of that member is also
  theirs — else a token of that member would act on numbers they cannot reach;
* they edit or delete a profile only when they could manage every member holding it.

Members they may not see (no shared number) are answered as not found. The store keeps
the document whole and swaps it atomically (``DirectoryStore.swap``), so a bulk change
applies to every member and number or to none.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from flow_engine.admin import tokens
from flow_engine.admin.permissions import Module, Principal
from flow_engine.errors import Conflict, Forbidden, NotFound, UnprocessableEntity

NAME_MAX = 100
DESCRIPTION_MAX = 500
#: live (not revoked) API tokens a member may hold at once
TOKENS_PER_MEMBER_MAX = 20


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Profile(_Doc):
    id: str
    name: str
    description: str = ""
    modules: list[Module] = Field(default_factory=list)
    created_at: float
    updated_at: float


class Member(_Doc):
    id: str
    name: str
    email: str
    profile_id: str | None = None
    numbers: list[str] = Field(default_factory=list)  # sorted
    created_at: float


class ApiToken(_Doc):
    id: str
    member_id: str
    name: str
    hash: str
    created_at: float
    revoked_at: float | None = None


class Account(_Doc):
    """How a member signs in to the web console: their password's argon2 hash and the
    language they chose (None: their browser's)."""

    password_hash: str | None = None
    password_set_at: float | None = None
    locale: str | None = None


class Directory(_Doc):
    profiles: dict[str, Profile] = Field(default_factory=dict)
    members: dict[str, Member] = Field(default_factory=dict)
    tokens: dict[str, ApiToken] = Field(default_factory=dict)
    owners: dict[str, str] = Field(default_factory=dict)  # number -> owner e-mail
    accounts: dict[str, Account] = Field(default_factory=dict)  # member id -> console account

    # ------------------------------------------------------------------ reading
    def profile(self, profile_id: str) -> Profile:
        found = self.profiles.get(profile_id)
        if found is None:
            raise NotFound(f"profile {profile_id} not found", details={"profile_id": profile_id})
        return found

    def member(self, member_id: str) -> Member:
        found = self.members.get(member_id)
        if found is None:
            raise NotFound(f"member {member_id} not found", details={"member_id": member_id})
        return found

    def member_by_email(self, email: str) -> Member | None:
        wanted = email.strip().lower()
        return next((m for m in self.members.values() if m.email == wanted), None)

    def modules_of(self, member: Member) -> frozenset[Module]:
        profile = self.profiles.get(member.profile_id or "")
        return frozenset(profile.modules) if profile else frozenset()

    def principal(self, member: Member) -> Principal:
        return Principal(
            actor=f"member:{member.id}",
            member_id=member.id,
            email=member.email,
            modules=self.modules_of(member),
            numbers=frozenset(member.numbers),
        )

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live member token, else None (constant-time comparison)."""
        parsed = tokens.parse_token(token)
        if parsed is None:
            return None
        token_id, secret = parsed
        record = self.tokens.get(token_id)
        if record is None or record.revoked_at is not None:
            tokens.matches(secret, "0" * 64)  # same work whether or not the id exists
            return None
        if not tokens.matches(secret, record.hash):
            return None
        member = self.members.get(record.member_id)
        return None if member is None else self.principal(member)

    def members_of(self, number: str) -> list[Member]:
        return sorted(
            (m for m in self.members.values() if number in m.numbers), key=lambda m: m.email
        )

    def attendants_of(self, number: str) -> list[Member]:
        """The members who attend ``number``: linked to it, with a profile granting the
        desk module (by e-mail)."""
        return [m for m in self.members_of(number) if Module.DESK in self.modules_of(m)]

    def may_attend(self, number: str, email: str) -> bool:
        """Whether the super-admin may act on a ticket of ``number`` as ``email``: one of
        the number's attendants (:meth:`attendants_of`) — as long as it has any. A ticket
        held in the name of anyone else would lock every real attendant out of it (only
        the holder answers, transfers or closes). A number nobody attends through the
        directory (a fresh install, the README tour) takes any e-mail: no member could be
        locked out, and there is no other way to attend it."""
        attendants = self.attendants_of(number)
        return not attendants or any(m.email == email for m in attendants)

    def member_count(self, profile_id: str) -> int:
        return sum(1 for m in self.members.values() if m.profile_id == profile_id)

    def visible_members(self, who: Principal) -> list[Member]:
        """Members ``who`` may see: everyone for the super-admin; else themselves, members
        sharing one of their numbers, and members linked to no number yet."""
        everyone = sorted(self.members.values(), key=lambda m: m.email)
        if who.is_super:
            return everyone
        return [m for m in everyone if self.is_visible(who, m)]

    def is_visible(self, who: Principal, member: Member) -> bool:
        return (
            who.is_super
            or member.id == who.member_id
            or not member.numbers
            or bool(who.numbers.intersection(member.numbers))
        )

    def visible_member(self, who: Principal, member_id: str) -> Member:
        """The member, if ``who`` may see them; else NotFound (their existence is not
        revealed either)."""
        member = self.members.get(member_id)
        if member is None or not self.is_visible(who, member):
            raise NotFound(f"member {member_id} not found", details={"member_id": member_id})
        return member

    def live_tokens(self, member_id: str) -> list[ApiToken]:
        return [
            t for t in self.tokens.values() if t.member_id == member_id and t.revoked_at is None
        ]

    def search_members(self, who: Principal, query: str | None) -> list[Member]:
        found = self.visible_members(who)
        if query:
            q = query.strip().casefold()
            found = [m for m in found if q in m.name.casefold() or q in m.email]
        return found

    # ------------------------------------------------------------------ checks
    def _grantable(self, who: Principal, modules: Iterable[Module], what: str) -> None:
        beyond = sorted(set(modules) - set(who.modules)) if not who.is_super else []
        if beyond:
            raise Forbidden(
                f"{what} would grant modules you do not have: {', '.join(beyond)}",
                details={"modules": beyond},
            )

    def _manageable(self, who: Principal, member: Member) -> None:
        """A member may manage another only if that member's rights are within theirs:
        every module and every number. (Sharing one number is not enough: whoever can
        create a token for a member acts on all of that member's numbers.)"""
        if who.is_super:
            return
        self._grantable(who, self.modules_of(member), f"managing member {member.email}")
        outside = sorted(set(member.numbers) - who.numbers)
        if outside:
            raise Forbidden(
                f"member {member.email} is linked to numbers outside your access: "
                + ", ".join(outside),
                details={"member_id": member.id, "numbers": outside},
            )

    def _target(self, who: Principal, member_id: str) -> Member:
        """A member to manage: NotFound unless visible, Forbidden unless manageable."""
        member = self.visible_member(who, member_id)
        self._manageable(who, member)
        return member

    def _profile_editable(self, who: Principal, profile: Profile) -> None:
        """Changing a profile changes the rights of everyone holding it: allowed only with
        every module of the profile, and the right to manage each of its members."""
        self._grantable(who, profile.modules, f"profile {profile.name!r}")
        if who.is_super:
            return
        blocked = sorted(
            m.email
            for m in self.members.values()
            if m.profile_id == profile.id and set(m.numbers) - who.numbers
        )
        if blocked:
            raise Forbidden(
                f"profile {profile.name!r} is held by members linked to numbers outside "
                "your access",
                details={"profile_id": profile.id, "members": len(blocked)},
            )

    def _profile_ref(self, profile_id: str) -> Profile:
        """A profile named in a request body: 422 on ``profile_id`` when unknown."""
        found = self.profiles.get(profile_id)
        if found is None:
            raise UnprocessableEntity(
                f"profile {profile_id} not found",
                details=[
                    {"field": "profile_id", "message": "unknown profile", "type": "not_found"}
                ],
            )
        return found

    def _own_numbers(self, who: Principal, numbers: Iterable[str]) -> None:
        outside = sorted(n for n in set(numbers) if not who.is_super and n not in who.numbers)
        if outside:
            raise Forbidden(
                "numbers outside your access: " + ", ".join(outside),
                details={"numbers": outside},
            )

    def _unique_profile_name(self, name: str, except_id: str | None = None) -> None:
        key = name.strip().casefold()
        for p in self.profiles.values():
            if p.id != except_id and p.name.casefold() == key:
                raise Conflict(
                    f"a profile named {p.name!r} exists", details={"field": "name", "id": p.id}
                )

    # ------------------------------------------------------------------ profiles
    def create_profile(
        self, who: Principal, name: str, description: str, modules: list[Module], now: float
    ) -> Profile:
        self._grantable(who, modules, "this profile")
        self._unique_profile_name(name)
        profile = Profile(
            id=new_id("p"),
            name=name.strip(),
            description=description,
            modules=sorted(set(modules)),
            created_at=now,
            updated_at=now,
        )
        self.profiles[profile.id] = profile
        return profile

    def update_profile(
        self,
        who: Principal,
        profile_id: str,
        *,
        name: str | None,
        description: str | None,
        modules: list[Module] | None,
        now: float,
    ) -> Profile:
        """Change what is given; a profile given its own values is left as it was (its
        ``updated_at`` too)."""
        profile = self.profile(profile_id)
        self._profile_editable(who, profile)
        changes: dict[str, object] = {}
        if name is not None:
            self._unique_profile_name(name, except_id=profile_id)
            changes["name"] = name.strip()
        if description is not None:
            changes["description"] = description
        if modules is not None:
            self._grantable(who, modules, "this profile")
            changes["modules"] = sorted(set(modules))
        if all(getattr(profile, k) == v for k, v in changes.items()):
            return profile
        updated = profile.model_copy(update={**changes, "updated_at": now})
        self.profiles[profile_id] = updated
        return updated

    def delete_profile(self, who: Principal, profile_id: str) -> list[Member]:
        """Delete a profile; its members keep their numbers but lose its permissions.
        Returns the members affected."""
        profile = self.profile(profile_id)
        self._profile_editable(who, profile)
        affected = sorted(
            (m for m in self.members.values() if m.profile_id == profile_id),
            key=lambda m: m.email,
        )
        for m in affected:
            self.members[m.id] = m.model_copy(update={"profile_id": None})
        del self.profiles[profile_id]
        return affected

    # ------------------------------------------------------------------ members
    def require_names(self, entries: list[tuple[str | None, str]]) -> None:
        """``(name, email)`` of members to add: each new one (an e-mail not in the
        directory) needs a name; a 422 names every one lacking it (``members.N.name``)."""
        missing = [
            {"field": f"members.{i}.name", "message": "Field required", "type": "missing"}
            for i, (name, email) in enumerate(entries)
            if not name and self.member_by_email(email) is None
        ]
        if missing:
            raise UnprocessableEntity("a new member needs a name", details=missing)

    def add_member(
        self,
        who: Principal,
        *,
        name: str | None,
        email: str,
        profile_id: str | None,
        numbers: list[str],
        now: float,
    ) -> tuple[Member, bool]:
        """Add a new member (``name`` required) or update an existing one with this e-mail:
        set the profile when given, and link the numbers. Returns (member, created)."""
        self._own_numbers(who, numbers)
        if profile_id is not None:
            self._grantable(who, self._profile_ref(profile_id).modules, "this profile")
        existing = self.member_by_email(email)
        if existing is None:
            if not name:
                raise UnprocessableEntity(
                    "a new member needs a name",
                    details=[{"field": "name", "message": "Field required", "type": "missing"}],
                )
            member = Member(
                id=new_id("m"),
                name=name.strip(),
                email=email.strip().lower(),
                profile_id=profile_id,
                numbers=sorted(set(numbers)),
                created_at=now,
            )
            self.members[member.id] = member
            return member, True
        update: dict[str, object] = {"numbers": sorted(set(existing.numbers) | set(numbers))}
        if profile_id is not None and profile_id != existing.profile_id:
            self._manageable(who, existing)  # changing someone's rights
            update["profile_id"] = profile_id
        member = existing.model_copy(update=update)
        self.members[member.id] = member
        return member, False

    def update_member(
        self,
        who: Principal,
        member_id: str,
        *,
        name: str | None,
        email: str | None,
        profile_id: str | None,
        clear_profile: bool,
    ) -> Member:
        member = self._target(who, member_id)
        update: dict[str, object] = {}
        if name is not None:
            update["name"] = name.strip()
        if email is not None:
            other = self.member_by_email(email)
            if other is not None and other.id != member_id:
                raise Conflict(f"{email} belongs to another member", details={"field": "email"})
            update["email"] = email.strip().lower()
        if clear_profile:
            update["profile_id"] = None
        elif profile_id is not None:
            self._grantable(who, self._profile_ref(profile_id).modules, "this profile")
            update["profile_id"] = profile_id
        updated = member.model_copy(update=update)
        self.members[member_id] = updated
        if updated.email != member.email:  # ownerships follow the member (R-ADMIN-3)
            for number, owner in list(self.owners.items()):
                if owner == member.email:
                    self.owners[number] = updated.email
        return updated

    def delete_member(self, who: Principal, member_id: str, now: float) -> Member:
        """Remove a member: their links, ownerships and tokens go with them."""
        member = self._target(who, member_id)
        del self.members[member_id]
        for number, owner in list(self.owners.items()):
            if owner == member.email:
                del self.owners[number]
        for t in list(self.tokens.values()):
            if t.member_id == member_id and t.revoked_at is None:
                self.tokens[t.id] = t.model_copy(update={"revoked_at": now})
        self.accounts.pop(member_id, None)
        return member

    # ------------------------------------------------------------------ console accounts
    def account(self, member_id: str) -> Account:
        return self.accounts.get(member_id) or Account()

    def set_password(
        self, who: Principal, member_id: str, password_hash: str, now: float
    ) -> Member:
        """Set a member's console password (its hash): the super-admin for anyone, a member
        for themselves only (a session proves who they are, ``admin/signin.py``)."""
        member = self.member(member_id)
        if not who.is_super and who.member_id != member_id:
            raise Forbidden(
                "only the super-admin sets the password of another member",
                details={"member_id": member_id},
            )
        self.accounts[member_id] = self.account(member_id).model_copy(
            update={"password_hash": password_hash, "password_set_at": now}
        )
        return member

    def set_locale(self, member_id: str, locale: str | None) -> None:
        self.member(member_id)
        self.accounts[member_id] = self.account(member_id).model_copy(update={"locale": locale})

    # ------------------------------------------------------------------ links
    def link(self, who: Principal, member_ids: list[str], numbers: list[str]) -> list[Link]:
        """Link every member to every number; returns the links that are new. Giving or
        taking access to one's own numbers needs no right over the member's other ones."""
        self._own_numbers(who, numbers)
        added: list[Link] = []
        for member_id in dict.fromkeys(member_ids):
            member = self.member(member_id)
            new = sorted(set(numbers) - set(member.numbers))
            added.extend(Link(member_id=member.id, email=member.email, number=n) for n in new)
            self.members[member.id] = member.model_copy(
                update={"numbers": sorted(set(member.numbers) | set(numbers))}
            )
        return added

    def unlink(self, who: Principal, member_ids: list[str], numbers: list[str]) -> list[Link]:
        """Remove every member from every number; returns the links removed (the summary
        shown before a removal). A number's owner loses the ownership too."""
        self._own_numbers(who, numbers)
        removed: list[Link] = []
        for member_id in dict.fromkeys(member_ids):
            member = self.member(member_id)
            gone = sorted(set(numbers) & set(member.numbers))
            removed.extend(Link(member_id=member.id, email=member.email, number=n) for n in gone)
            self.members[member.id] = member.model_copy(
                update={"numbers": sorted(set(member.numbers) - set(numbers))}
            )
            for n in gone:
                if self.owners.get(n) == member.email:
                    del self.owners[n]
        return removed

    def set_owner(self, who: Principal, number: str, email: str | None) -> Member | None:
        """R-ADMIN-3: the owner e-mail must belong to a member, who is linked to the number."""
        self._own_numbers(who, [number])
        if email is None:
            self.owners.pop(number, None)
            return None
        member = self.member_by_email(email)
        if member is None:
            raise UnprocessableEntity(
                f"{email} is not a member: add the member first",
                details=[
                    {
                        "field": "owner_email",
                        "message": "must be the e-mail of a member",
                        "type": "not_a_member",
                    }
                ],
            )
        if number not in member.numbers:
            self.members[member.id] = member = member.model_copy(
                update={"numbers": sorted({*member.numbers, number})}
            )
        self.owners[number] = member.email
        return member

    # ------------------------------------------------------------------ tokens
    def create_token(
        self, who: Principal, member_id: str, name: str, now: float
    ) -> tuple[ApiToken, str]:
        if who.member_id != member_id:
            self._target(who, member_id)
        else:
            self.member(member_id)
        if len(self.live_tokens(member_id)) >= TOKENS_PER_MEMBER_MAX:
            raise Conflict(
                f"a member holds at most {TOKENS_PER_MEMBER_MAX} live tokens: revoke one first",
                details={"member_id": member_id, "max": TOKENS_PER_MEMBER_MAX},
            )
        token_id, token, digest = tokens.new_token()
        record = ApiToken(id=token_id, member_id=member_id, name=name, hash=digest, created_at=now)
        self.tokens[token_id] = record
        return record, token

    def member_tokens(self, who: Principal, member_id: str) -> list[ApiToken]:
        """A member's tokens (their own, or of a member ``who`` manages)."""
        if who.member_id != member_id:
            self._target(who, member_id)
        else:
            self.member(member_id)
        return sorted(
            (t for t in self.tokens.values() if t.member_id == member_id),
            key=lambda t: t.created_at,
        )

    def revoke_token(self, who: Principal, member_id: str, token_id: str, now: float) -> ApiToken:
        if who.member_id != member_id:
            self._target(who, member_id)
        else:
            self.member(member_id)
        record = self.tokens.get(token_id)
        if record is None or record.member_id != member_id:
            raise NotFound(f"token {token_id} not found", details={"token_id": token_id})
        if record.revoked_at is None:
            record = record.model_copy(update={"revoked_at": now})
            self.tokens[token_id] = record
        return record


class Link(BaseModel):
    """A member's access to a number."""

    member_id: str
    email: str
    number: str


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(6)}"
