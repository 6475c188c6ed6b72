"""Noise control: machine text that looks like PII, and words NER mistakes for people.

Telemetry is mostly machine text: hashes, ids, versions, timestamps, user agents,
component and function names. Presidio's NER and number patterns were built for
prose and fire on all of it. These checks are pure functions over a candidate
span and its surrounding text.
"""

from __future__ import annotations

import gzip
import re
from array import array
from bisect import bisect_left
from functools import lru_cache

from core.paths import normalize_key
from core.text import digits_only

# Whole-value shapes that are machine text, never PII (checked on the raw field value).
_MACHINE_VALUE = re.compile(
    r"""
    [0-9a-f]{16,}                                       # hex hashes and trace ids
    | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  # UUIDs
    | (?:dpl|bld|prj|team|icfg|rule|env|hook|cron|sha|v)_[A-Za-z0-9]{6,}    # Vercel ids
    | \d+(?:\.\d+)?(?:ms|s|m|h|kb|mb|gb|b|%)?           # numbers and durations
    | v?\d+\.\d+\.\d+(?:[-+][\w.]+)?                    # versions
    | \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?  # ISO timestamps
    | [a-z]{2,4}\d(?:::[\w-]+)+                          # Vercel cache/edge ids (sfo1::abc)
    """,
    re.X | re.I,
)

# Words spaCy tags as PERSON in logs and code that are not people.
NOT_PEOPLE = frozenset(
    w.lower()
    for w in """
    GET POST PUT PATCH DELETE HEAD OPTIONS Next Nextjs React Vercel Sentry Stripe Prisma Redis Postgres
    Supabase Node Chrome Safari Firefox Mozilla Windows Linux Macintosh Mac Intel AppleWebKit KHTML Gecko
    Edge Android iPhone iOS Webpack Turbopack Middleware Edge Lambda Function Error TypeError RangeError
    SyntaxError ReferenceError Promise Unhandled Warning Info Debug Fatal Cache Hit Miss Stale Build
    Deploy Deployment Route Handler Server Client Component Layout Page Suspense Fetch Request Response
    Invalid Failed Success Started Completed Booking Appointment Checkout Dashboard Login Logout Session
    Token Patient Patients Doctor Provider User Users Admin Api Json Html Uncaught Cannot Unknown
    Telehealth Visit Intake Form Portal Vitals Lab Labs Results Pharmacy Refill Message Messages Webhook
    Twilio Segment Mixpanel PostHog Datadog Kafka Zookeeper Hadoop Spark Jetty Apache Nginx Kernel
    Mon Tue Wed Thu Fri Sat Sun Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec January February March July September October November
    December
    Button Clicked Viewed Submitted Opened Closed Started Completed Signed Added Removed Updated Created
    Deleted Loaded Shown Selected Searched Purchased Order Product Cart Page Screen Sign Account Profile
    Software Technologies Technology Inc LLC Ltd Corp Corporation Labs Systems Solutions Group Holdings
    Clinic Hospital Pharmacy Bank Health Healthcare Medical Care Center Services Partners Studio Newsletter
    Innovation Saver Profiler Catcher Watchdog Signal Pool Connection Daemon Worker Thread Queue Scheduler
    Prescription Prescriptions Refill Refills Diagnosis Treatment Therapy Lab Result Appointment Visit Dose
    """.split()
)
# Lower-case words inside names: `Maria de la Cruz`, `Ludwig van Beethoven`, `Ahmed bin Salem`
NAME_PARTICLES = frozenset("van der den de la los las von del della di da dos das du le bin binti bint ibn al el "
                           "ben ter ten zu af av".split())
# A "name" ending in a street suffix is a street: `Maple Street`, `Lincoln Lane`.
STREET_WORDS = frozenset(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct place pl way terrace ter parkway "
    "pkwy circle cir highway hwy trail trl square sq loop plaza".split()
)
_HONORIFIC = re.compile(r"(?i)\b(?:dr|mr|mrs|ms|miss|mx|prof|patient|name|nurse|pt|hi|hello|hey|dear|thanks"
                        r"|welcome(?:\s+back)?|good\s+(?:morning|afternoon|evening)"
                        r"|name\s+is|i\s+am|i'm|call\s+me|this\s+is)\.?[\s:=\"',]*$")
# code-like: path and markup characters, digits, camelCase (`getUser`; not the second capital of `McKay`, `MacDonald`,
# `DeShawn`, `LaToya`)
_CODEY = re.compile(r"[_/\\@#=<>{}()\[\]|0-9]|(?<!\bM)(?<!\bMa)(?<!\bD)(?<!\bL)[a-z][A-Z]|\.[a-z]")


# Whole values that look machine-made but may be checksummed identifiers (cards, NPIs, phones) or an
# SSN written with dots: the detectors decide, with their checksums and validators.
_MAYBE_IDENTIFIER = re.compile(r"\+?\d{9,19}|\d{3}\.\d{2}\.\d{4}")


def is_machine_value(value: str) -> bool:
    """True when a whole field value is an id, hash, number, version or timestamp."""
    stripped = value.strip()
    if " " in stripped:
        return False  # no machine shape holds a space; most free text is decided here
    return bool(_MACHINE_VALUE.fullmatch(stripped)) and not _MAYBE_IDENTIFIER.fullmatch(stripped)


# Keys whose values are places, devices or campaign labels: a name-like value there is not a person
# (`geo.city: "Port Kristin"`, `device.model: "Pixel 7"`).
NOT_NAME_KEYS = frozenset({
    "city", "region", "country", "state", "province", "county", "locale", "timezone", "tz", "location", "continent",
    "subcontinent", "metro", "campaign", "source", "medium", "term", "content", "browser", "os", "platform",
    "device", "model", "brand", "mobilebrandname", "mobilemodelname", "category", "language", "currency", "plan",
    "servername", "hostname", "host", "logger", "release", "environment", "transaction", "family",
})


def _caseless(word: str) -> bool:
    """A word of a script without capitals (Arabic, Hebrew, CJK, Thai...): its names cannot be capitalised."""
    ch = word[:1]
    return ch.isalpha() and not ch.isupper() and not ch.islower()


def plausible_person(text: str, start: int, end: int, key_is_name: bool, key: str | None = None) -> bool:
    """Whether a PERSON span in `text` can be a person's name in telemetry."""
    if key and not key_is_name and normalize_key(key) in NOT_NAME_KEYS:
        return False
    span = text[start:end].strip()
    if len(span) < (2 if _caseless(span) else 3) or _CODEY.search(span):  # `京助`, `김민`: two characters
        return False
    words = span.split()
    if any(w.lower().strip(".,'") in NOT_PEOPLE for w in words):
        return False
    if len(words) > 1 and words[-1].lower().strip(".,") in STREET_WORDS:
        return False
    if span.isupper():
        from detectors.names import listed_caps_name

        if not listed_caps_name([w for w in words if len(w.rstrip(".")) > 1]):
            return False  # capitals are headings and constants (`ERROR MESSAGE`), unless the lists name both words
    elif not all(w[:1].isupper() or _caseless(w) or w.lower() in NAME_PARTICLES for w in words):
        return False
    if key_is_name:
        return True
    if len(words) >= 2:
        # `Wireless Mouse`, `Clock Mode`, `Normal Sleep`: capitalised common words (product names, settings,
        # states of machine text) with no given name among them and nothing before that says a person follows
        return not (_all_common_words(words) and not _HONORIFIC.search(text[max(0, start - 24):start]))
    # one capitalised word: only with an honorific or label just before it
    return bool(_HONORIFIC.search(text[max(0, start - 24) : start]))


class HashedWords:
    """A set of words kept as the sorted 64-bit hashes of the words, searched by bisection.

    200,000 words as a set of strings cost ~21 MB in every process; as hashes they cost 1.6 MB,
    and building them holds the strings of one 64 KB slice at a time (60 ms; a string at a time
    through a regex and `np.unique` took 0.5 s of the first name candidate). Python's string hash
    is 64 bits wide: the chance that any word outside the list shares a listed word's hash is ~1e-14.
    """

    SLICE = 1 << 16

    def __init__(self, lines: bytes):
        """`lines`: words, one a line (`\n`), ASCII; lines starting with `#` are comments."""
        import numpy as np  # pyarrow's dependency

        parts, pos, n = [], 0, len(lines)
        while pos < n:
            end = lines.find(b"\n", min(n, pos + self.SLICE))
            end = n if end < 0 else end + 1
            words = [w for w in lines[pos:end].decode("ascii").split("\n") if w and w[0] != "#"]
            parts.append(np.fromiter(map(hash, words), dtype=np.int64, count=len(words)))
            pos = end
        keys = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        keys.sort()
        if len(keys):
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        self.keys = array("q", keys.tobytes())

    def __contains__(self, word: str) -> bool:
        h = hash(word)
        i = bisect_left(self.keys, h)
        return i < len(self.keys) and self.keys[i] == h




def _common_words() -> tuple[HashedWords, frozenset[str]]:
    """Lower-case English words (Webster's Second, public domain) and words of software it predates
    (`runtime`, `nvidia`): words that are no name by themselves."""
    from importlib import resources

    data = resources.files("detectors").joinpath("data")
    english = HashedWords(gzip.decompress(data.joinpath("english_words.txt.gz").read_bytes()))
    software = data.joinpath("software_words.txt").read_text(encoding="utf-8").split("\n")
    return english, frozenset(w.strip() for w in software if w.strip() and not w.startswith("#"))


def is_common_word(word: str) -> bool:
    """A word of the English dictionary, in any case (`Mouse`, `clock`); `Keanu`, `Adeyemi` are not."""
    english, software = _COMMON[0] if _COMMON else _load_common()
    w = word.strip(".,'").lower()
    if w in english or w in software or (w[-1:] == "s" and (w[:-1] in english or w[:-1] in software)):
        return True
    return w.endswith("ies") and len(w) > 4 and w[:-3] + "y" in english  # `retries`, `entries`, `policies`


_COMMON: list[tuple[HashedWords, frozenset[str]]] = []  # loaded on the first name candidate that needs them


def _load_common() -> tuple[HashedWords, frozenset[str]]:
    if not _COMMON:
        _COMMON.append(_common_words())
    return _COMMON[0]


def _all_common_words(words: list[str]) -> bool:
    """Every word is a dictionary word and none a known given name (`Rose Hill`, `Will Park` stay names)."""
    from detectors.names import known_first, name_sets

    first = name_sets()[0]
    core = [w.strip(".,'") for w in words if w.lower() not in NAME_PARTICLES]
    return bool(core) and all(is_common_word(w) and not known_first(w, first) for w in core)


_VERSION_AFTER = re.compile(r"[-+_][A-Za-z]")
_VERSION_BEFORE = re.compile(r"(?i)(?:version|ver|v|vrmf|release|build|firmware)\s*(?:[=:]-?|\()?\s*$")
_BYTE_GROUPS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5,}")  # a serial, a fingerprint, a WWN: bytes
_VERSION_KEYS = frozenset({"v", "rv", "ver", "vers", "build", "release", "rev", "revision", "firmware", "os"})
_PACKAGE_KEY = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+")


# Keys that hold a client's address: there, private ranges count too (a clinic's NAT, a VPN).
IP_KEYS = frozenset({"ip", "ipaddress", "clientip", "remoteaddr", "remoteip", "userip", "xforwardedfor", "xrealip",
                     "sourceip", "ipv4", "ipv6", "clientaddress"})


def plausible_ip(text: str, start: int, end: int | None = None, key: str | None = None,
                 public_only: bool = False) -> bool:
    """An address, not a version string; with `public_only`, also a routable address of a person's device.

    Versions: `Chrome/131.0.0.0`, `Version=4.2.2.0`, `modules["System.Runtime"] = "4.2.2.0"`.
    `public_only` (`detection.ip_policy: public_only`) also drops loopback, unspecified, link-local,
    multicast, reserved and private ranges, except under a client-address key (a clinic's NAT, a VPN).
    The default policy reports them: a private address still says which device or clinic network it was.
    """
    import ipaddress

    if start > 0:
        before = text[start - 1]
        # `~`: a Windows package identity's version (`Package_for_KB2862330~31bf3856ad364e35~amd64~~6.1.2.0`)
        if before.isalnum() or before in "/._-~" or _VERSION_BEFORE.search(text[max(0, start - 28):start]):
            return False
        if before == ":" and ":" in text[start:end or start + 1]:  # the tail of `text2001:db8::1`
            return False
    if key and ("version" in key.lower() or key.lower() in _VERSION_KEYS or _PACKAGE_KEY.fullmatch(key)):
        return False
    if end is not None and _VERSION_AFTER.match(text, end):
        return False  # `11.3.244.8-node.38` (V8's version), `4.2.2.0-rc1`, `1.2.3.4+build.5`: a version's tail
    if end is not None and _BYTE_GROUPS.fullmatch(text, start, end):
        return False  # `serial 5C:9C:E1:09:78:87:F8:07`: bytes in colon-hex, no address prints every group so
    if not public_only or end is None:
        return True
    ip_key = bool(key) and normalize_key(key).lstrip("$") in IP_KEYS
    raw = text[start:end].strip("[]")
    try:
        ip = ipaddress.ip_address(raw.split("%")[0].split("/")[0])
    except ValueError:
        return True
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return False
    if ip.version == 4 and ip.is_reserved:  # IPv6 "reserved" is most of the unallocated space: keep it
        return False
    return not (ip.is_private and not ip_key)


_IP_LIKE = re.compile(r"(?<!\d)\d{1,3}([-.])\d{1,3}\1\d{1,3}\1\d{1,3}(?!\d)")


def _token_around(text: str, start: int, end: int) -> str:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def plausible_phone(text: str, start: int, end: int, key: str | None = None) -> bool:
    """Not an IP address written with dashes inside a host name (`195-154-37-122.rev.example.eu`), nor the
    digits of an identifier under an id-named key (`logid="0102043014"`)."""
    if text[start:end].isdigit() and ((key and is_id_key(key)) or is_id_key(inline_key(text, start))):
        return False
    token = _token_around(text, start, end)
    return not (_IP_LIKE.search(token) and any(ch.isalpha() for ch in token))


_INLINE_KEY = re.compile(r"([A-Za-z_][\w.-]{0,40})[\"']?\s{0,2}[=:]\s{0,2}[\"']?\Z")


def inline_key(text: str, start: int) -> str:
    """The key written just before a value in the text itself (`logid="`, `"eventId": `, `sn=`), or ''."""
    m = _INLINE_KEY.search(text, max(0, start - 48), start)
    return m.group(1) if m else ""


# labels of device and subscriber numbers that pass Luhn by design (IMEI, ICCID) or by chance
_DEVICE_NUMBER_WORDS = frozenset({"imei", "imeisv", "imsi", "iccid", "meid", "esn", "msid"})
_WORD_BEFORE = re.compile(r"([A-Za-z][\w-]{0,30})[ \t]{1,3}\Z")


def labelled_identifier(text: str, start: int) -> bool:
    """The number at `start` follows an identifier's label: a key (`logid=`, `"eventId": `) or a word
    (`imei 356938035643809`, `serial 4111...`, `session_id 1245...`)."""
    if is_id_key(inline_key(text, start)):
        return True
    m = _WORD_BEFORE.search(text, max(0, start - 36), start)
    return bool(m) and (m.group(1).lower() in _DEVICE_NUMBER_WORDS or is_id_key(m.group(1)))


# words that make an `...id` key a phone's (`callerid`, `phone_id`)
_PHONE_KEY_WORDS = ("phone", "caller", "mobile", "cell", "tel", "fax", "sms", "msisdn", "contact")


def is_id_key(key: str) -> bool:
    """A key that names an identifier (`logid`, `devid`, `session_id`, `eventId`, `uuid`, `serial`): its
    digits are a record's number, whatever they look like, unless the key is a phone's (`callerid`)."""
    k = normalize_key(key)
    if not k or any(w in k for w in _PHONE_KEY_WORDS):
        return False
    return k.endswith(("id", "uuid", "guid")) or k in ("sn", "serial", "serialnumber", "seq", "sequence")


def plausible_card(text: str, start: int, end: int) -> bool:
    """Not digits glued into an identifier (`blk_-5195120009388265`, `id4111111111111111`)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before in "_-" or after.isalnum() or after == "_")


# A token of machine fields: a number, a time, a date, a version or a hex word (`1`, `14.0.3048.4`, `0x1d`,
# `12:04`). Punctuation-only tokens (`-`, `(`, `|`) are stepped over.
_FIELD_TOKEN = re.compile(r"[(\[{<\"']*(?:0x[0-9a-f]+|\d[\d.:,/_-]*)[)\]}>\"',;:]*", re.I)
_PUNCT_ONLY = re.compile(r"[^\w]+")
# a number as long as a card or an account number, printed with spaces or dashes at most: a value of its own
# (a list of test cards), not a field beside one
_LONG_NUMBER = re.compile(r"\d(?:[ -]?\d){11,18}")


def _neighbour_tokens(text: str, start: int, end: int) -> tuple[str, str]:
    """The whitespace-delimited tokens before `start` and after `end`, stepping over punctuation-only ones;
    bounded: at most three tokens on each side are looked at."""
    before = text[:start].split()[-3:]
    after = text[end:].split()[:3]
    prev = next((t for t in reversed(before) if not _PUNCT_ONLY.fullmatch(t)), "")
    nxt = next((t for t in after if not _PUNCT_ONLY.fullmatch(t)), "")
    return prev, nxt


# a card's expiry (`12/27`, `03/2029`): printed beside the card, not a field of a row
_EXPIRY = re.compile(r"[(\[]?(?:0[1-9]|1[0-2])/(?:\d{2}|20\d{2})[)\],;]?")


def _is_field(token: str) -> bool:
    """A numeric field; a card-length number counts as one unless it passes Luhn itself (then it is another
    value of a list of cards, not a field of a row: Cassandra's token ring prints 19-digit numbers by the
    hundred, one in ten Luhn-valid)."""
    if not token or not _FIELD_TOKEN.fullmatch(token) or _EXPIRY.fullmatch(token):
        return False
    bare = token.strip("()[]{}<>\"',;:")
    if _LONG_NUMBER.fullmatch(bare):
        from detectors.healthcare import luhn_valid

        return not luhn_valid(digits_only(bare))
    return True


# another short group of digits right after or before a grouped number, with its separator (`^` only at the
# text's real start: a window's first character may be inside a token)
_GROUP_AFTER = {sep: re.compile(re.escape(sep) + r"\d{1,6}(?![\w-])") for sep in " -"}
_GROUP_BEFORE = {sep: re.compile(r"(?:^|\s)\d{1,6}" + re.escape(sep) + r"\Z") for sep in " -"}


@lru_cache(maxsize=64)
def _same_grouping(sep: str, sizes: tuple[int, ...], after: bool) -> re.Pattern[str]:
    groups = re.escape(sep).join(r"\d{%d}" % n for n in sizes)
    return re.compile(re.escape(sep) + groups + r"(?!\d)" if after else r"(?<!\d)" + groups + re.escape(sep) + r"\Z")


def _card_beside(text: str, value: str, sep: str, start: int, end: int, after: bool) -> bool:
    """Digit groups of the sizes `value` has, right after `end` (or before `start`), passing Luhn: another
    printed card of a list, not more fields of a row."""
    sizes = tuple(len(g) for g in value.split(sep))
    width = len(value) + 1
    rx = _same_grouping(sep, sizes, after)
    m = rx.match(text, end, end + width) if after else rx.search(text, max(0, start - width), start)
    if not m:
        return False
    from detectors.healthcare import luhn_valid

    return luhn_valid(digits_only(m.group(0)))


def among_number_fields(text: str, start: int, end: int) -> bool:
    """A number standing in a row of numeric fields.

    A checksum alone vouches for a bare card, NPI or DEA number one time in ten: in machine text, where
    epochs, counters and sizes stand side by side (`start 1131746400 1 clusterAddMember`,
    `Fan speeds ( 3552 3534 3375 4354 3515 3479 )`), one of them passes by chance. A printed value stands
    by itself or among words (`console.log(value)`, `charged 4111 1111 1111 1111 today`).
    - a grouped number (`3552 3534 3375 4354`) is a window of a longer row when another short group of
      digits follows or precedes it with the same separator (unless that side holds another card of the
      same grouping: `4111 1111 1111 1111 4111 1111 1111 1111` is a list of cards);
    - an unseparated one (`1131746400`) is a field when the token before or after it is a number too
      (a time, a count, a version), but not another card-length number (a list of values).
    """
    value = text[start:end]
    seps = {ch for ch in value if ch in " -"}
    if len(seps) == 1:
        sep = seps.pop()
        # continued on a side by another short group: a row's window, unless that side holds another
        # Luhn-valid number of the same grouping (cards printed one after another)
        if _GROUP_AFTER[sep].match(text, end, end + 9) and not _card_beside(text, value, sep, start, end, True):
            return True
        return bool(_GROUP_BEFORE[sep].search(text, max(0, start - 8), start)
                    and not _card_beside(text, value, sep, start, end, False))
    if start > 0 and not text[start - 1].isspace() and text[start - 1] not in "([{\"'=:,":
        return False  # glued to what precedes: not a field of its own (the recognizers' own rules decide)
    prev, nxt = _neighbour_tokens(text, start, end)
    return _is_field(prev) or _is_field(nxt)


# short English words the dictionary list leaves out (it holds no words under three letters, and not all
# function words): without them, `will pick it up` reads as half foreign
_ENGLISH_FUNCTION_WORDS = frozenset(
    "a an it up is to of in on at by or no be has do he we me us my as if so am go oh ok vs via per".split())
_LOWER_WORD = re.compile(r"(?<![\w\ufffd])[a-z]{2,}(?![\w\ufffd])")
_LABEL_AFTER = re.compile(r"[ \t]+[A-Za-z][\w-]{0,30}:(?!//)")
_GAP_AFTER = re.compile(r"(?: {3,}|\t+)\S")  # the label column of an aligned table: `Tunneling Ping      45s`


def _has_known_name(words: list[str]) -> bool:
    from detectors.names import known_first, known_last, name_sets

    first, last = name_sets()
    return any(known_first(w, first) or known_last(w, last) for w in (w.strip(".,'") for w in words))


def _starts_with_given_name(words: list[str]) -> bool:
    from detectors.names import known_first, name_sets

    return known_first(words[0].strip(".,'"), name_sets()[0])


def _given_and_thing(words: list[str]) -> bool:
    """`Max Retries`, `Bill Payment`, `Mark Sweep`: a given name before a dictionary word that no surname list
    holds names a thing (a setting, a service, an algorithm); `John Smith` (a listed surname) stays."""
    from detectors.names import known_first, known_last, name_sets

    first, last = name_sets()
    given, other = (w.strip(".,'") for w in words)
    return known_first(given, first) and is_common_word(other) and not known_last(other, last) \
        and not known_first(other, first)


def _prose_names_a_person(text: str, start: int, end: int) -> bool:
    """A verb a person does after the pair, a word that takes a person before it (`Dan Bar has a bank
    account`, `met with Max Power`: the gazetteer's own prose context), or an author's mark (`(c) Adam Belay`)."""
    from detectors.names import _AFTER_PAIR, _person_word_before

    return (bool(_AFTER_PAIR.match(text, end)) or _person_word_before(text, start)
            or _AUTHOR_BEFORE.search(text, max(0, start - 16), start) is not None)


_AUTHOR_BEFORE = re.compile(r"(?i)(?:\(c\)|\u00a9|copyright|author:?|written by)\s{0,3}\Z")  # `(c) Adam Belay`


def ner_person_out_of_place(text: str, start: int, end: int) -> bool:
    """A PERSON the English NER model guessed where its guesses say nothing.

    - a given name before a dictionary word no surname list holds (`Max Retries`, `Bill Payment`), where no
      prose names a person (`Dan Bar has a bank account` stays);
    - a span that runs into the next label of `Key: value` text (`Account Domain: WORKGROUP Logon ID: 0x3E7`):
      its last word is the label's first; or the label column of an aligned table (`Tunneling Ping      45s`);
      unless it starts with a known given name;
    - prose in another language, with no known name in the span: the model reads capitalised nouns as names
      (`Der Testzeitraum für dieses Exemplar`): most lower-case words around the span are no English words.
    A title or a name label just before the span (`Name:`, `patient`, `Dr.`) keeps it. Bounded: the window
    around the span is the noise window.
    """
    if _HONORIFIC.search(text[max(0, start - 24):start]):
        return False
    words = text[start:end].split()
    if len(words) == 2 and _given_and_thing(words) and not _prose_names_a_person(text, start, end):
        return True
    if len(words) >= 2 and (_LABEL_AFTER.match(text, end) or _GAP_AFTER.match(text, end)):
        return not _starts_with_given_name(words)  # `Jane Doe  DOB:` stays; `Tunneling Ping` (a surname) goes
    if _has_known_name(words):
        return False
    around = [m.group(0) for m in _LOWER_WORD.finditer(text, 0, start)] + \
             [m.group(0) for m in _LOWER_WORD.finditer(text, end)]
    if len(around) < 3:
        return False
    english = sum(1 for w in around if w in _ENGLISH_FUNCTION_WORDS or is_common_word(w))
    return english * 2 < len(around)


_COLUMN_GAP = re.compile(r" {3,}|\t")


def plausible_address(text: str, start: int, end: int) -> bool:
    """Not the tail of a timestamp or a decimal (`05:42:11.30 Server      Common language runtime`: `30` is
    hundredths of a second), nor words of aligned columns (three spaces or a tab inside the span)."""
    if start >= 2 and text[start - 1] in ".:," and text[start - 2].isdigit():
        return False
    return not _COLUMN_GAP.search(text, start, end)
