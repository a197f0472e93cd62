"""People signing in to the web console: e-mail and password, sessions in the store, and
failed sign-ins limited per e-mail and per address.

A session id is 32 random bytes, given to the browser once (its cookie) and stored only
as a SHA-256 (``storage/sessions.py``), so a copy of the store opens no session. A
session names its member and carries their password's :func:`~passwords.stamp`: a new
password, a deleted member or an idle period longer than the policy's ends it. Every
request rebuilds the member's :class:`Principal` from the directory as it is now, so a
change of profile or numbers applies at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from flow_engine.admin import passwords
from flow_engine.admin.access import DirectoryService
from flow_engine.admin.directory import Directory, Member
from flow_engine.admin.permissions import Principal
from flow_engine.errors import Forbidden, RequestError
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.sessions import SessionStore

#: an address may fail this many times the attempts of one e-mail (offices share addresses)
ADDRESS_FACTOR = 4


class SignInRefused(RequestError):
    """Wrong e-mail or password, or locked after too many failures (401). The message is
    the same whether or not the e-mail belongs to a member."""

    code = "sign_in_refused"
    status = 401

    def __init__(self, message: str, *, locked: bool) -> None:
        super().__init__(message, details={"locked": locked})
        self.locked = locked


@dataclass(frozen=True)
class Policy:
    attempts: int = 5
    lockout_s: int = 15 * 60
    idle_s: int = 30 * 60
    max_age_s: int = 12 * 3600  # signed out after this long, however active


class SessionDoc(BaseModel):
    """What the store keeps of a session."""

    member_id: str
    csrf: str
    stamp: str
    created_at: float


@dataclass(frozen=True)
class Session:
    """A live session: its id (the cookie's value) and what it holds."""

    id: str
    doc: SessionDoc

    @property
    def csrf(self) -> str:
        return self.doc.csrf

    def csrf_matches(self, given: str | None) -> bool:
        """Constant-time check of a form's or header's synchronizer token."""
        return given is not None and hmac.compare_digest(given.encode(), self.doc.csrf.encode())


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x1f{value}".encode()).hexdigest()


class SignInService:
    def __init__(
        self,
        store: SessionStore,
        directory: DirectoryService,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.policy = policy or Policy()
        self.clock = clock

    # ------------------------------------------------------------------ signing in
    def _keys(self, email: str, address: str) -> tuple[str, str]:
        return _digest("email", email.strip().lower()), _digest("addr", address)

    async def locked(self, email: str, address: str) -> bool:
        email_key, addr_key = self._keys(email, address)
        p = self.policy
        return (
            await self.store.failures(email_key) >= p.attempts
            or await self.store.failures(addr_key) >= p.attempts * ADDRESS_FACTOR
        )

    async def sign_in(self, email: str, password: str, address: str) -> Session:
        """A new session for the member with this e-mail and password, or SignInRefused.
        A locked e-mail or address is refused without looking at the password."""
        minutes = max(1, self.policy.lockout_s // 60)
        if await self.locked(email, address):
            raise SignInRefused(
                f"too many failed sign-ins: try again in {minutes} minutes", locked=True
            )
        d = await self.directory.current()
        member = d.member_by_email(email) if email.strip() else None
        stored = d.account(member.id).password_hash if member else None
        ok = await asyncio.to_thread(passwords.verify_password, stored, password)
        email_key, addr_key = self._keys(email, address)
        if member is None or stored is None or not ok:
            window = self.policy.lockout_s * 1000
            count = await self.store.count_failure(email_key, window)
            await self.store.count_failure(addr_key, window)
            locked = count >= self.policy.attempts
            raise SignInRefused(
                f"too many failed sign-ins: try again in {minutes} minutes"
                if locked
                else "wrong e-mail or password",
                locked=locked,
            )
        await self.store.clear_failures(email_key)
        return await self._open(member.id, stored)

    async def _open(self, member_id: str, password_hash: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            doc=SessionDoc(
                member_id=member_id,
                csrf=secrets.token_urlsafe(32),
                stamp=passwords.stamp(password_hash),
                created_at=self.clock(),
            ),
        )
        await self.store.put(
            _digest("session", session.id),
            session.doc.model_dump_json(),
            self.policy.idle_s * 1000,
        )
        return session

    async def load(
        self, session_id: str, *, touch: bool = True
    ) -> tuple[Session, Member, Principal, Directory] | None:
        """The live session of ``session_id`` (with ``touch``, its idle expiry moved on),
        with its member, their principal and the directory it was built from; None when it
        is over."""
        if not session_id or len(session_id) > 100:
            return None
        key = _digest("session", session_id)
        raw = await self.store.get(key, self.policy.idle_s * 1000 if touch else None)
        if raw is None:
            return None
        doc = SessionDoc.model_validate_json(raw)
        d = await self.directory.current()
        member = d.members.get(doc.member_id)
        stored = d.account(doc.member_id).password_hash if member else None
        too_old = self.clock() - doc.created_at > self.policy.max_age_s
        if member is None or stored is None or passwords.stamp(stored) != doc.stamp or too_old:
            await self.store.delete(key)
            return None
        return Session(session_id, doc), member, d.principal(member), d

    async def sign_out(self, session_id: str) -> None:
        await self.store.delete(_digest("session", session_id))

    # ------------------------------------------------------------------ passwords
    async def set_password(self, who: Principal, member_id: str, password: str) -> Member:
        """Set a member's password (the super-admin, or the member themselves): every
        session of theirs made before ends."""
        passwords.check_password(password)
        digest = await asyncio.to_thread(passwords.hash_password, password)

        def audit(member: Member, at: float) -> list[AuditEntry]:
            return [
                AuditEntry(
                    at=at,
                    actor=who.actor,
                    action="member.password",
                    summary=f"console password set for {member.email}",
                    target=member.id,
                )
            ]

        return await self.directory.change(
            lambda d: d.set_password(who, member_id, digest, self.clock()), audit
        )

    async def change_own_password(
        self, session: Session, who: Principal, current: str, new: str
    ) -> Session:
        """A member's own change: the current password first; the session goes on as a new
        one (the old id, and every other session of theirs, stop working)."""
        d = await self.directory.current()
        stored = d.account(session.doc.member_id).password_hash
        if not await asyncio.to_thread(passwords.verify_password, stored, current):
            raise Forbidden(
                "the current password is wrong",
                details=[{"field": "current", "message": "wrong password", "type": "password"}],
            )
        passwords.check_password(new, field="new")
        await self.set_password(who, session.doc.member_id, new)
        await self.sign_out(session.id)
        d = await self.directory.current()
        return await self._open(
            session.doc.member_id, d.account(who.member_id or "").password_hash or ""
        )

    async def set_locale(self, member_id: str, locale: str | None) -> None:
        def audit(_none: None, at: float) -> list[AuditEntry]:
            return []

        await self.directory.change(lambda d: d.set_locale(member_id, locale), audit)
