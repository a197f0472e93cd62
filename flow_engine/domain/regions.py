"""The region of a phone number, for the notification figures by region (R-DATA): the
country (ISO 3166-1 alpha-2, from ``phonenumbers``), and for Brazil the state
(``BR-SP``) from the area code (DDD). ``ZZ`` when it cannot be told."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

UNKNOWN = "ZZ"

#: Brazil's area codes (DDD) by state (ISO 3166-2:BR)
BRAZIL_DDD: dict[str, tuple[int, ...]] = {
    "SP": (11, 12, 13, 14, 15, 16, 17, 18, 19),
    "RJ": (21, 22, 24),
    "ES": (27, 28),
    "MG": (31, 32, 33, 34, 35, 37, 38),
    "PR": (41, 42, 43, 44, 45, 46),
    "SC": (47, 48, 49),
    "RS": (51, 53, 54, 55),
    "DF": (61,),
    "GO": (62, 64),
    "TO": (63,),
    "MT": (65, 66),
    "MS": (67,),
    "AC": (68,),
    "RO": (69,),
    "BA": (71, 73, 74, 75, 77),
    "SE": (79,),
    "PE": (81, 87),
    "AL": (82,),
    "PB": (83,),
    "RN": (84,),
    "CE": (85, 88),
    "PI": (86, 89),
    "PA": (91, 93, 94),
    "AM": (92, 97),
    "RR": (95,),
    "AP": (96,),
    "MA": (98, 99),
}
STATE_OF_DDD = {ddd: state for state, codes in BRAZIL_DDD.items() for ddd in codes}


@lru_cache(maxsize=65536)
def region_of(phone: str) -> str:
    """``5511987654321`` → ``BR-SP``; ``5491112345678`` → ``AR``; else ``ZZ``."""
    digits = "".join(c for c in phone if c.isdigit())
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return UNKNOWN
    country = phonenumbers.region_code_for_number(parsed) or UNKNOWN
    if country == "BR":
        national = str(parsed.national_number)
        state = STATE_OF_DDD.get(int(national[:2])) if len(national) >= 10 else None
        return f"BR-{state}" if state else "BR"
    return country
