"""The access directory as pure functions: profiles, members, links, owners, tokens, and the
rules that keep a member from raising their own rights."""

from __future__ import annotations

import pytest

from flow_engine.admin import directory as directory_module
from flow_engine.admin import tokens
from flow_engine.admin.directory import TOKENS_PER_MEMBER_MAX, Directory, Link, Member
from flow_engine.admin.permissions import Module, Principal, super_admin
from flow_engine.errors import Conflict, Forbidden, NotFound, UnprocessableEntity

ADMIN = super_admin()
N1, N2, N3 = "101", "102", "103"
NOW = 1000.0


def add(
    d: Directory,
    email: str,
    modules: list[Module] | None = None,
    numbers: list[str] | None = None,
    *,
    who: Principal = ADMIN,
) -> Member:
    """A member (and, with ``modules``, a profile of their own), added as ``who``."""
    profile_id = None
    if modules is not None:
        profile_id = d.create_profile(ADMIN, f"profile {email}", "", modules, NOW).id
    member, created = d.add_member(
        who,
        name=email.split("@")[0],
        email=email,
        profile_id=profile_id,
        numbers=numbers or [],
        now=NOW,
    )
    assert created
    return member


def me(d: Directory, member: Member) -> Principal:
    return d.principal(d.members[member.id])


@pytest.fixture
def d() -> Directory:
    return Directory()


# ---------------------------------------------------------------- anti-escalation


def test_a_member_cannot_create_a_profile_granting_a_module_they_lack(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG], [N1]))
    with pytest.raises(Forbidden) as err:
        d.create_profile(lead, "attendants", "", [Module.DESK], NOW)
    assert err.value.details == {"modules": ["desk"]}
    profile = d.create_profile(lead, "editors", "", [Module.CONFIG, Module.CONFIG], NOW)
    assert profile.modules == [Module.CONFIG]


def test_a_member_cannot_assign_a_profile_granting_more(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG], [N1]))
    desk = d.create_profile(ADMIN, "desk", "", [Module.DESK], NOW)
    with pytest.raises(Forbidden):
        d.add_member(
            lead, name="Ana", email="ana@x.com", profile_id=desk.id, numbers=[N1], now=NOW
        )
    ana = add(d, "ana@x.com", None, [N1], who=lead)  # without a profile: fine
    with pytest.raises(Forbidden):
        d.update_member(
            lead, ana.id, name=None, email=None, profile_id=desk.id, clear_profile=False
        )
    with pytest.raises(Forbidden):  # nor by widening a profile someone holds
        d.update_profile(
            lead,
            d.members[lead.member_id or ""].profile_id or "",
            name=None,
            description=None,
            modules=[Module.ACCESS, Module.CONFIG, Module.DESK],
            now=NOW,
        )
    assert d.modules_of(d.members[ana.id]) == frozenset()


def test_a_member_cannot_manage_a_member_with_more_modules(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG], [N1]))
    boss = add(d, "boss@x.com", [Module.ACCESS, Module.CONFIG, Module.DESK], [N1])
    for attempt in (
        lambda: d.update_member(
            lead, boss.id, name="x", email=None, profile_id=None, clear_profile=False
        ),
        lambda: d.update_member(
            lead, boss.id, name=None, email=None, profile_id=None, clear_profile=True
        ),
        lambda: d.delete_member(lead, boss.id, NOW),
        lambda: d.create_token(lead, boss.id, "mine now", NOW),
        lambda: d.member_tokens(lead, boss.id),
    ):
        with pytest.raises(Forbidden):
            attempt()
    assert boss.id in d.members and d.tokens == {}


def test_sharing_one_number_is_not_enough_to_manage_a_member(d: Directory) -> None:
    """A token of a member linked to N1 and N2 acts on N2: a manager of N1 only may not
    create one (nor delete or re-profile that member)."""
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG], [N1]))
    wide = add(d, "wide@x.com", [Module.CONFIG], [N1, N2])
    with pytest.raises(Forbidden) as err:
        d.create_token(lead, wide.id, "t", NOW)
    assert err.value.details == {"member_id": wide.id, "numbers": [N2]}
    with pytest.raises(Forbidden):
        d.delete_member(lead, wide.id, NOW)
    # ... but they may take them off their own number, and see them
    assert d.unlink(lead, [wide.id], [N1]) == [
        Link(member_id=wide.id, email=wide.email, number=N1)
    ]
    assert d.members[wide.id].numbers == [N2]


def test_a_member_manages_members_within_their_rights(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG], [N1, N2]))
    editor = d.create_profile(lead, "editor", "", [Module.CONFIG], NOW)
    ana, created = d.add_member(
        lead, name="Ana", email="Ana@X.com", profile_id=editor.id, numbers=[N2], now=NOW
    )
    assert created and ana.email == "ana@x.com" and ana.numbers == [N2]
    renamed = d.update_member(
        lead, ana.id, name=" Ana B ", email=None, profile_id=None, clear_profile=False
    )
    assert renamed.name == "Ana B"
    _record, token = d.create_token(lead, ana.id, "ci", NOW)
    assert d.authenticate(token) == Principal(
        actor=f"member:{ana.id}",
        member_id=ana.id,
        email="ana@x.com",
        modules=frozenset({Module.CONFIG}),
        numbers=frozenset({N2}),
    )
    d.delete_member(lead, ana.id, NOW)
    assert ana.id not in d.members


def test_a_member_links_only_their_own_numbers(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.NUMBERS], [N1]))
    ana = add(d, "ana@x.com", [Module.DESK], [])
    with pytest.raises(Forbidden) as err:
        d.link(lead, [ana.id], [N1, N2])
    assert err.value.details == {"numbers": [N2]}
    with pytest.raises(Forbidden):
        d.add_member(lead, name="Bo", email="bo@x.com", profile_id=None, numbers=[N3], now=NOW)
    assert d.link(lead, [ana.id, ana.id], [N1]) == [
        Link(member_id=ana.id, email="ana@x.com", number=N1)
    ]
    assert d.link(lead, [ana.id], [N1]) == []  # already linked: nothing new


def test_a_profile_held_beyond_your_numbers_is_not_yours_to_change(d: Directory) -> None:
    lead = me(d, add(d, "lead@x.com", [Module.ACCESS, Module.CONFIG, Module.DESK], [N1]))
    shared = d.create_profile(ADMIN, "attendants", "", [Module.DESK], NOW)
    for email, numbers in (("a@x.com", [N1]), ("b@x.com", [N2])):
        d.add_member(ADMIN, name="x", email=email, profile_id=shared.id, numbers=numbers, now=NOW)
    with pytest.raises(Forbidden):
        d.delete_profile(lead, shared.id)
    with pytest.raises(Forbidden):
        d.update_profile(lead, shared.id, name="mine", description=None, modules=None, now=NOW)
    assert shared.id in d.profiles


def test_members_see_only_members_sharing_a_number(d: Directory) -> None:
    lead = add(d, "lead@x.com", [Module.ACCESS], [N1])
    near = add(d, "near@x.com", [], [N1, N2])
    far = add(d, "far@x.com", [], [N3])
    fresh = add(d, "fresh@x.com", [], [])
    who = me(d, lead)
    assert [m.email for m in d.visible_members(who)] == ["fresh@x.com", "lead@x.com", "near@x.com"]
    assert d.visible_member(who, near.id) == d.members[near.id]
    with pytest.raises(NotFound):
        d.visible_member(who, far.id)
    assert [m.email for m in d.search_members(who, "FRE")] == [fresh.email]
    assert len(d.visible_members(ADMIN)) == 4


# ---------------------------------------------------------------- profiles


def test_deleting_a_profile_leaves_its_members_without_modules(d: Directory) -> None:
    ana = add(d, "ana@x.com", [Module.CONFIG, Module.DESK], [N1, N2])
    profile_id = d.members[ana.id].profile_id or ""
    before = me(d, ana)
    assert before.can(N1, Module.DESK)
    affected = d.delete_profile(ADMIN, profile_id)
    assert [m.id for m in affected] == [ana.id]
    after = me(d, ana)
    assert after.modules == frozenset() and not after.can(N1, Module.DESK)
    assert d.members[ana.id].numbers == [N1, N2] and d.members[ana.id].profile_id is None
    with pytest.raises(NotFound):
        d.profile(profile_id)


def test_profile_names_are_unique_and_updates_keep_the_rest(d: Directory) -> None:
    p = d.create_profile(ADMIN, "Editors", "edit configs", [Module.CONFIG], NOW)
    with pytest.raises(Conflict):
        d.create_profile(ADMIN, " editors ", "", [], NOW)
    q = d.create_profile(ADMIN, "Attendants", "", [Module.DESK], NOW)
    with pytest.raises(Conflict):
        d.update_profile(ADMIN, q.id, name="EDITORS", description=None, modules=None, now=NOW)
    same = d.update_profile(ADMIN, p.id, name="Editors", description=None, modules=None, now=2.0)
    assert same == p  # its own values: nothing changes, not even updated_at
    renamed = d.update_profile(ADMIN, p.id, name="Editor", description=None, modules=None, now=2.0)
    assert (renamed.name, renamed.description, renamed.modules, renamed.updated_at) == (
        "Editor",
        "edit configs",
        [Module.CONFIG],
        2.0,
    )


def test_an_unknown_profile_in_a_body_names_the_field(d: Directory) -> None:
    with pytest.raises(UnprocessableEntity) as err:
        d.add_member(ADMIN, name="A", email="a@x.com", profile_id="p_nope", numbers=[], now=NOW)
    assert err.value.details[0]["field"] == "profile_id"


# ---------------------------------------------------------------- members and owners


def test_adding_an_existing_e_mail_updates_that_member(d: Directory) -> None:
    ana = add(d, "ana@x.com", None, [N1])
    with pytest.raises(UnprocessableEntity) as err:
        d.add_member(ADMIN, name=None, email="new@x.com", profile_id=None, numbers=[], now=NOW)
    assert err.value.details[0]["field"] == "name"
    again, created = d.add_member(
        ADMIN, name=None, email="ANA@x.com", profile_id=None, numbers=[N2], now=NOW
    )
    assert not created and again.id == ana.id and again.numbers == [N1, N2]


def test_the_owner_must_be_a_member_and_follows_them(d: Directory) -> None:
    with pytest.raises(UnprocessableEntity) as err:
        d.set_owner(ADMIN, N1, "nobody@x.com")
    assert err.value.details[0]["field"] == "owner_email"
    ana = add(d, "ana@x.com")
    d.set_owner(ADMIN, N1, "ana@x.com")
    assert d.owners == {N1: "ana@x.com"} and d.members[ana.id].numbers == [N1]
    d.update_member(
        ADMIN, ana.id, name=None, email="ana.b@x.com", profile_id=None, clear_profile=False
    )
    assert d.owners == {N1: "ana.b@x.com"}  # the owner is still a member
    d.unlink(ADMIN, [ana.id], [N1])
    assert d.owners == {}
    d.set_owner(ADMIN, N2, "ana.b@x.com")
    d.delete_member(ADMIN, ana.id, NOW)
    assert d.owners == {}


def test_an_e_mail_belongs_to_one_member(d: Directory) -> None:
    add(d, "ana@x.com")
    bo = add(d, "bo@x.com")
    with pytest.raises(Conflict):
        d.update_member(
            ADMIN, bo.id, name=None, email="ana@x.com", profile_id=None, clear_profile=False
        )


def test_unlink_summarises_the_links_removed(d: Directory) -> None:
    a = add(d, "a@x.com", None, [N1, N2, N3])
    b = add(d, "b@x.com", None, [N2])
    c = add(d, "c@x.com", None, [])
    removed = d.unlink(ADMIN, [a.id, b.id, c.id], [N1, N2])
    assert removed == [
        Link(member_id=a.id, email="a@x.com", number=N1),
        Link(member_id=a.id, email="a@x.com", number=N2),
        Link(member_id=b.id, email="b@x.com", number=N2),
    ]
    assert d.members[a.id].numbers == [N3] and d.members[b.id].numbers == []
    assert d.unlink(ADMIN, [a.id], [N1]) == []
    assert d.members_of(N3) == [d.members[a.id]]


# ---------------------------------------------------------------- tokens


def test_tokens_authenticate_until_revoked(d: Directory) -> None:
    ana = add(d, "ana@x.com", [Module.DESK], [N1])
    record, token = d.create_token(ADMIN, ana.id, "laptop", NOW)
    assert token.startswith(f"fe_{record.id}_") and record.hash == tokens.hash_secret(
        token.split("_", 2)[2]
    )
    assert token not in d.model_dump_json()  # only the hash is kept
    who = d.authenticate(token)
    assert who is not None and who.member_id == ana.id and who.can(N1, Module.DESK)
    assert d.authenticate(token + "x") is None
    assert d.authenticate(f"fe_{record.id}") is None
    assert d.authenticate("not-a-token") is None
    revoked = d.revoke_token(ADMIN, ana.id, record.id, 5.0)
    assert revoked.revoked_at == 5.0
    assert d.revoke_token(ADMIN, ana.id, record.id, 9.0).revoked_at == 5.0  # idempotent
    assert d.authenticate(token) is None
    with pytest.raises(NotFound):
        d.revoke_token(ADMIN, ana.id, "nope", NOW)


def test_deleting_a_member_revokes_their_tokens(d: Directory) -> None:
    ana = add(d, "ana@x.com", [Module.DESK], [N1])
    _record, token = d.create_token(ADMIN, ana.id, "laptop", NOW)
    d.create_token(ADMIN, ana.id, "phone", NOW)
    assert len(d.live_tokens(ana.id)) == 2
    d.delete_member(ADMIN, ana.id, 7.0)
    assert d.authenticate(token) is None
    assert all(t.revoked_at == 7.0 for t in d.tokens.values())


def test_a_member_manages_their_own_tokens_without_modules(d: Directory) -> None:
    ana = add(d, "ana@x.com", None, [N1])
    who = me(d, ana)
    record, _token = d.create_token(who, ana.id, "mine", NOW)
    assert [t.id for t in d.member_tokens(who, ana.id)] == [record.id]
    assert d.revoke_token(who, ana.id, record.id, NOW).revoked_at == NOW
    other = add(d, "bo@x.com", [Module.DESK], [N1])
    with pytest.raises(Forbidden):
        d.create_token(who, other.id, "theirs", NOW)


def test_a_member_holds_a_bounded_number_of_live_tokens(d: Directory) -> None:
    ana = add(d, "ana@x.com")
    made = [d.create_token(ADMIN, ana.id, f"t{i}", NOW)[0] for i in range(TOKENS_PER_MEMBER_MAX)]
    with pytest.raises(Conflict):
        d.create_token(ADMIN, ana.id, "one more", NOW)
    d.revoke_token(ADMIN, ana.id, made[0].id, NOW)
    d.create_token(ADMIN, ana.id, "one more", NOW)


def test_unknown_token_ids_cost_the_same_hash_comparison(
    d: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the id is unknown, revoked or live, one constant-time comparison runs."""
    ana = add(d, "ana@x.com", [Module.DESK], [N1])
    live, live_token = d.create_token(ADMIN, ana.id, "live", NOW)
    gone, gone_token = d.create_token(ADMIN, ana.id, "gone", NOW)
    d.revoke_token(ADMIN, ana.id, gone.id, NOW)
    calls: list[str] = []
    real = tokens.matches

    def counting(secret: str, stored: str) -> bool:
        calls.append(stored)
        return real(secret, stored)

    monkeypatch.setattr(directory_module.tokens, "matches", counting)
    secret = live_token.split("_", 2)[2]
    assert d.authenticate(f"fe_{'0' * 12}_{secret}") is None
    assert d.authenticate(gone_token) is None
    assert d.authenticate(live_token) is not None
    assert calls == ["0" * 64, "0" * 64, live.hash]


def test_the_directory_round_trips_as_json(d: Directory) -> None:
    ana = add(d, "ana@x.com", [Module.CONFIG], [N1])
    d.create_token(ADMIN, ana.id, "t", NOW)
    d.set_owner(ADMIN, N1, ana.email)
    assert Directory.model_validate_json(d.model_dump_json()) == d
