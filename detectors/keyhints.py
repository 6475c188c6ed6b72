"""Key-name hints: a value under `firstName`, `dob`, `ssn`, `mrn`... is that entity if its shape fits.

Structured telemetry says what a value is in its key. Text alone cannot tell a
first name `Maria` from a product name, or a member id from an order number; the
key can. Each hint pairs normalized key names with a shape check so that
`dob: "unknown"` or `firstName: ""` stay quiet. Pure: (key, text) in, matches out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import regex

from detectors.entities import SECRETS
from detectors.healthcare import DATE_VALUE, MILITARY_ADDRESS, PO_BOX
from detectors.noise import NAME_PARTICLES
from detectors.secrets_context import entity_for_normalized_key, value_under_secret_key
from core.model import Match
from core.paths import normalize_key, parse

DEFAULT_KEY_HINTS: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "firstname", "lastname", "fullname", "givenname", "familyname", "middlename", "surname",
        "patientname", "membername", "subscribername", "guardianname", "emergencycontactname",
        "contactname", "displayname", "legalname", "preferredname", "fname", "lname", "name",
        "providername", "doctorname", "physicianname", "caregivername", "parentname",
        "first", "last", "given", "family", "fn", "ln",
    ),
    "DATE_OF_BIRTH": ("dob", "dateofbirth", "birthdate", "birthday", "birthdt", "bday", "patientdob"),
    "US_SSN": ("ssn", "socialsecuritynumber", "socialsecurity", "ssnlast4", "taxid"),
    "PHONE_NUMBER": ("phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "cell", "cellphone",
                     "cellnumber", "telephone", "telephonenumber", "tel", "homephone", "workphone", "contactphone",
                     "contactnumber", "patientphone", "homenumber", "worknumber", "smsnumber", "faxnumber", "fax"),
    "EMAIL_ADDRESS": ("email", "emailaddress", "patientemail", "useremail", "contactemail"),
    "MEDICAL_RECORD_NUMBER": ("mrn", "medicalrecordnumber", "medicalrecordno", "chartnumber", "patientmrn"),
    "HEALTH_PLAN_ID": ("memberid", "membernumber", "subscriberid", "policynumber", "policyid", "insuranceid",
                       "medicaidid", "medicareid", "mbi", "healthplanid", "insurancememberid"),
    "STREET_ADDRESS": ("address", "streetaddress", "street", "addressline1", "address1", "homeaddress",
                       "mailingaddress", "line1", "shippingaddress", "billingaddress"),
    "MEDICAL_CONDITION": ("diagnosis", "condition", "conditions", "medicalcondition", "chiefcomplaint",
                          "dx", "primarydiagnosis", "symptoms", "reasonforvisit", "visitreason"),
    "MEDICATION": ("medication", "medications", "drug", "drugname", "prescription", "rx", "medicationname"),
    "ICD10_CODE": ("icd10", "icd10code", "icd", "icdcode", "diagnosiscode", "dxcode"),
    "CREDENTIAL": ("password", "passwd", "pwd", "passphrase", "dbpassword"),
    "API_KEY": ("apikey", "secretkey", "clientsecret", "accesskey", "privatekey", "apisecret"),
    "AUTH_TOKEN": ("token", "accesstoken", "refreshtoken", "idtoken", "sessiontoken", "authtoken",
                   "authorization", "jwt", "bearer"),
}

# A name word of any script: a capital and letters (`Łachacz`, `Ó Bric`, `Nguyễn`, `D'Angelo`), or a run of
# letters of a script without case (`عماد`, `凤英`, `김`); lower-case particles between (`van der Leek`).
_NAME_WORD = r"(?:\p{Lu}[\p{L}\p{M}'\u2019-]*\.?|[\p{Lo}\p{M}]+(?:[-'\u2019][\p{Lo}\p{M}]+)*)"
_PARTICLE = "(?:" + "|".join(sorted(NAME_PARTICLES, key=lambda p: (-len(p), p))) + ")"
_SHAPES: dict[str, re.Pattern[str]] = {
    "PERSON": regex.compile(rf"(?:{_PARTICLE}\s+){{0,2}}{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_NAME_WORD}){{0,3}}"),
    "DATE_OF_BIRTH": re.compile(DATE_VALUE.replace("(?:", "(?:", 1)),
    "US_SSN": re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}"),
    # any national or international number: 7-15 digits with the usual separators
    "PHONE_NUMBER": re.compile(r"\+?(?=(?:[\s().-]*\d){7,15}[\s().-]*(?:(?:x|ext\.?)\s*\d{1,5})?$)"
                               r"[\d\s().-]{7,24}(?:\s*(?:x|ext\.?)\s*\d{1,5})?"),
    "EMAIL_ADDRESS": re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,24}"),
    "MEDICAL_RECORD_NUMBER": re.compile(r"(?=[A-Za-z0-9-]*\d{4})[A-Za-z]{0,4}-?\d{4,12}(?:-\d{1,4})?"),
    "HEALTH_PLAN_ID": re.compile(r"(?=[A-Za-z0-9-]*\d{3})[A-Za-z0-9][A-Za-z0-9-]{5,19}"),
    "STREET_ADDRESS": re.compile(r"\d{1,6}\s+[A-Za-z0-9 .,'#-]{3,120}|" + MILITARY_ADDRESS + "|" + PO_BOX),
    "MEDICAL_CONDITION": re.compile(r"[A-Za-z][A-Za-z0-9 ,'()/-]{2,80}"),
    "MEDICATION": re.compile(r"[A-Za-z][A-Za-z0-9 .,'()/-]{2,80}"),
    "ICD10_CODE": re.compile(r"[A-TV-Z]\d[0-9AB](?:\.[0-9A-Z]{1,4})?"),
    "CREDENTIAL": re.compile(r"\S{4,256}"),
    "API_KEY": re.compile(r"[A-Za-z0-9+/_.=-]{16,512}"),
    "AUTH_TOKEN": re.compile(r"(?:Bearer\s+)?[A-Za-z0-9._~+/=-]{16,4096}"),
}
# Values that fill a slot without being data.
_PLACEHOLDERS = frozenset(
    {"", "null", "none", "undefined", "nan", "n/a", "na", "unknown", "anonymous", "test", "true", "false",
     "[filtered]", "[redacted]", "redacted", "***", "****", "********", "string", "example", "guest",
     "user", "admin", "default", "other"}
)
_BARE_NAME_KEYS = frozenset({"name", "displayname"})
# Objects that are a person: a `name` inside one (`traits.name`, `user.name`, `patients[2].name`) is that
# person's name, where a bare `name` anywhere else is as often a product, an event or a route.
PERSON_OBJECTS = frozenset({
    "user", "users", "patient", "patients", "customer", "customers", "member", "members", "person", "people",
    "contact", "contacts", "traits", "profile", "owner", "subscriber", "guardian", "caregiver", "doctor",
    "physician", "clinician", "practitioner", "author", "sender", "recipient", "requester", "assignee", "reporter",
    "employee", "student", "parent", "spouse", "dependent", "beneficiary", "emergencycontact", "nextofkin",
})
# Keys of those that hold the person as a plain string (`{"patient": "Maria Gonzalez"}`, `doctor=Sarah Chen`,
# `patient=李小龙`): read as such a `name`, by exact key only (`superuser` is no user)
_PERSON_VALUE_KEYS = PERSON_OBJECTS - {"traits", "profile", "contact", "contacts"}
# The hint key the scanner gives such a `name` (`person_object_key`): normalized keys are letters and digits
# only, so no key of a payload can be this one.
PERSON_OBJECT_NAME = "name@person"
# Short keys that name a person's name part in FHIR/vCard-like payloads (`given`, `family`, `fn`) but other
# things elsewhere (`family: "Chrome Mobile"`, `last: "2024-05-01"`): the value must be a known name.
_NAME_PART_KEYS = frozenset({"first", "last", "given", "family", "fn", "ln"})
# Generic keys whose values are often enums (`condition: ASSERT`, `condition: "eq"`): a dictionary term must be in it.
_DICTIONARY_CHECKED_KEYS = frozenset({"condition", "conditions", "symptoms"})
# Keys that end like a hint but name machine values (pagination cursors are not credentials).
_NOT_HINTS = frozenset({"pagetoken", "nexttoken", "cursortoken", "continuationtoken", "synctoken",
                        "publickeytoken", "csrftoken", "ipaddress", "macaddress", "remoteaddress", "serveraddress",
                        "walletaddress", "hostname", "filename", "pathname", "modelname", "typename",
                        "classname", "eventname", "servicename", "appname", "devicename", "browsername", "osname"})
# Keys of a login handle, and of a search box: a name is written there in lower case and glued
# (`username: maria.gonzalez`, `user=ivan_petrov`, `?q=aarav+sharma`); by exact key only
_HANDLE_KEYS = frozenset({"username", "login", "userlogin", "loginname", "handle", "screenname", "nickname"})
_SEARCH_KEYS = frozenset({"q", "search", "searchterm", "searchquery", "searchtext", "keyword", "keywords"})
_HANDLE = re.compile(r"([A-Za-z]{2,20})[._-]([A-Za-z]{2,20})(?:[._-]?\d{1,4})?")
_SEARCHED = re.compile(r"([A-Za-z]{2,20})\s+([A-Za-z]{2,20})")
# Short hints match whole keys only; longer ones also as suffixes (`patientFirstName`).
_MIN_SUFFIX = 6


def _known_full_name(value: str) -> bool:
    from detectors.names import name_sets
    from detectors.noise import NOT_PEOPLE

    words = value.split()
    if not 2 <= len(words) <= 4 or any(w.lower() in NOT_PEOPLE for w in words):
        return False
    first, last = name_sets()
    return words[0] in first and (words[-1] in last or words[-1] in first)


def person_object_key(path: str, normalized_key: str) -> str | None:
    """`PERSON_OBJECT_NAME` for a bare `name` whose nearest enclosing key is a person object, else None."""
    if normalized_key not in _BARE_NAME_KEYS:
        return None
    try:
        parts = parse(path)
    except ValueError:
        return None
    parent = next((p for p in reversed(parts[:-1]) if isinstance(p, str)), None)
    return PERSON_OBJECT_NAME if parent is not None and normalize_key(parent) in PERSON_OBJECTS else None


def _person_object_name(value: str) -> bool:
    """A person object's `name`: two to four name words with no common non-name word (`Oluwaseun Adeyemi`,
    `Nguyễn Văn An`), or one given name of the lists (`Hilda`); not `Google`, `Admin User` or `Test Account`."""
    from detectors.names import name_sets
    from detectors.noise import NOT_PEOPLE

    words = value.split()
    if any(w.lower().strip(".") in NOT_PEOPLE for w in words):
        return False
    if len(words) == 1:  # one given name of the lists, or a whole name written without spaces (`李小龙`, `김민준`)
        return words[0] in name_sets()[0] or _UNSPACED_NAME.fullmatch(words[0]) is not None
    return 2 <= len(words) <= 4


def _name_handle(value: str, search: bool) -> tuple[int, int] | None:
    """The span of a given name and a surname of the lists glued into a handle (`maria.gonzalez`,
    `ivan_petrov84` -> `ivan_petrov`) or, in a search box, typed in lower case (`aarav sharma`); not two
    dictionary words (`mark.down`, `rose hill`)."""
    from detectors.names import listed_pair

    m = (_SEARCHED if search else _HANDLE).fullmatch(value)
    if m is None or not listed_pair(m.group(1), m.group(2)):
        return None
    return m.start(1), m.end(2)


def _person_value(value: str) -> bool:
    """A person key's plain string (`patient: "Maria Gonzalez"`, a URL slug after `/patients/`): a person
    object's name that the lists know as a given name and a surname; these keys hold tiers, insurers and
    plans too (`member: "Gold Tier"`, `customer: "Blue Cross"`, `/members/grace-period`)."""
    if not _person_object_name(value):
        return False
    words = value.split()
    return len(words) == 1 or _known_full_name(value)


# Chinese and Korean write a family and given name as one run of two to four characters
_UNSPACED_NAME = regex.compile(r"[\p{Han}\p{Hangul}]{2,4}")


def _known_name_part(value: str) -> bool:
    """Every word a capitalised given name or surname of the lists (`Maria`, `van Dijk` keeps `Dijk`)."""
    from detectors.names import name_sets
    from detectors.noise import NOT_PEOPLE

    first, last = name_sets()
    words = [w for w in value.split() if w[:1].isupper()]
    return bool(words) and all((w in first or w in last) and w.lower() not in NOT_PEOPLE for w in words)


@lru_cache(maxsize=1)
def _condition_dictionary():
    from detectors.health import condition_recognizer

    return condition_recognizer()


def _has_condition_term(value: str) -> bool:
    return bool(_condition_dictionary().analyze(value, ["MEDICAL_CONDITION"]))


class KeyHintDetector:
    """Scores a whole value as an entity because of the key that holds it."""

    name = "key_hint"

    def __init__(self, hints: Mapping[str, Sequence[str]] | None = None, score: float = 0.85):
        self.score = score
        self._by_key: dict[str, str] = {}
        for entity, keys in (hints or DEFAULT_KEY_HINTS).items():
            for k in keys:
                self._by_key[k] = entity
        # suffix match: `patientFirstName` -> firstname; longest suffix first
        self._suffixes = sorted(self._by_key, key=len, reverse=True)
        self._by_key[PERSON_OBJECT_NAME] = "PERSON"  # by exact key only: the scanner gives it (person_object_key)
        self._memo: dict[str, str | None] = {}

    def entity_for(self, normalized_key: str) -> str | None:
        """The entity a key names, by exact name or a known suffix (memoized: keys repeat)."""
        if not normalized_key:
            return None
        try:
            return self._memo[normalized_key]
        except KeyError:
            pass
        hit = self._lookup(normalized_key)
        if len(self._memo) < 50_000:
            self._memo[normalized_key] = hit
        return hit

    def _lookup(self, normalized_key: str) -> str | None:
        hit = self._by_key.get(normalized_key)
        if hit:
            return hit
        if normalized_key in _PERSON_VALUE_KEYS or normalized_key in _HANDLE_KEYS or normalized_key in _SEARCH_KEYS:
            return "PERSON"
        if any(normalized_key.endswith(x) for x in _NOT_HINTS):
            return None
        for suffix in self._suffixes:
            if len(suffix) >= _MIN_SUFFIX and normalized_key.endswith(suffix):
                return self._by_key[suffix]
        return entity_for_normalized_key(normalized_key)  # `etsy_token`, `db_pwd`: secrets by their names

    def detect(self, text: str, normalized_key: str) -> list[Match]:
        entity = self.entity_for(normalized_key)
        if entity is None:
            return []
        stripped = text.strip()
        if stripped.lower() in _PLACEHOLDERS or len(stripped) > 4096:
            return []
        if entity in SECRETS:  # read as `key: value` in text is (one reading for both: scheme, length, entropy)
            if entity == "CREDENTIAL" and not _SHAPES["CREDENTIAL"].fullmatch(stripped):
                return []  # a password is one word of 4 to 256 characters
            found = value_under_secret_key(entity, stripped)
            if found is None:
                return []  # `PWD=/home/user` is a directory, `{{password}}` a template, `true` a flag
            kind, s, e = found
            start = text.find(stripped)
            return [Match(kind, start + s, start + e, self.score, self.name)]
        start = text.find(stripped)
        glued = normalized_key in _HANDLE_KEYS or normalized_key in _SEARCH_KEYS
        if entity == "PERSON" and (glued or normalized_key in _PERSON_VALUE_KEYS):
            span = _name_handle(stripped, search=normalized_key in _SEARCH_KEYS)
            if span is not None:
                return [Match(entity, start + span[0], start + span[1], self.score, self.name)]
            if glued:
                return []  # a handle or a search that is no listed name: `jsmith84`, `cardiology`
        shape = _SHAPES.get(entity)
        if shape is None or not shape.fullmatch(stripped):
            return []
        if entity == "PERSON" and normalized_key == PERSON_OBJECT_NAME and not _person_object_name(stripped):
            return []
        if entity == "PERSON" and normalized_key in _PERSON_VALUE_KEYS and not _person_value(stripped):
            return []
        if entity == "PERSON" and normalized_key in _BARE_NAME_KEYS and not _known_full_name(stripped):
            return []  # `name: "Checkout"`, `name: "Signal Catcher"`: a bare `name` must be a known full name
        if entity == "PERSON" and normalized_key in _NAME_PART_KEYS and not _known_name_part(stripped):
            return []
        if normalized_key in _DICTIONARY_CHECKED_KEYS and not _has_condition_term(stripped):
            return []
        return [Match(entity, start, start + len(stripped), self.score, self.name)]
