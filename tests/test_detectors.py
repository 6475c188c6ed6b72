"""Table-driven recognizer tests: what each detector must find, and what it must leave alone."""

import pytest

from detectors.analyzer import Task
from detectors.healthcare import DeaNumberRecognizer, NpiRecognizer, luhn_valid
from detectors.keyhints import KeyHintDetector
from detectors.noise import is_machine_value, plausible_ip, plausible_person
from core.model import Event
from core.paths import normalize_key, resolve


def found(engine, text, key=None, profile="full"):
    (matches,) = engine.analyzer.analyze([Task(text, normalize_key(key), key, profile)])
    return {(m.entity_type, text[m.start:m.end]) for m in matches}


_PEM_BODY = "MIIEowIBAAKCAQEA7Jd9fQ2kX8vNn3pLz0aR5tYqWcUe1hB6iG4oM0sD2fK7jV9bT3xE5wQ8rZ1y"

TRUE_CASES = [
    ("Patient Jane Doe booked a visit", None, ("PERSON", "Jane Doe")),
    ("Prescription sent for Lucas Reyes by Dr. Morrison", None, ("PERSON", "Lucas Reyes")),
    ("Prescription sent for Lucas Reyes by Dr. Morrison", None, ("PERSON", "Morrison")),
    ("Maria", "firstName", ("PERSON", "Maria")),
    ("contact jane.doe@gmail.com now", None, ("EMAIL_ADDRESS", "jane.doe@gmail.com")),
    ("SMS reminder queued to (889) 362-4284", None, ("PHONE_NUMBER", "(889) 362-4284")),
    ("call +1 415 555 0134", None, ("PHONE_NUMBER", "+1 415 555 0134")),
    ("ssn 512-48-9921 on file", None, ("US_SSN", "512-48-9921")),
    ("512489921", "ssn", ("US_SSN", "512489921")),
    ("DOB: 03/12/1984", None, ("DATE_OF_BIRTH", "03/12/1984")),
    ("born on March 12, 1984", None, ("DATE_OF_BIRTH", "March 12, 1984")),
    ("1984-03-12", "birthDate", ("DATE_OF_BIRTH", "1984-03-12")),
    ("lives at 742 Evergreen Terrace, Springfield, IL 62704", None,
     ("STREET_ADDRESS", "742 Evergreen Terrace, Springfield, IL 62704")),
    ("client 120.75.16.101 blocked", None, ("IP_ADDRESS", "120.75.16.101")),
    ("card 4242 4242 4242 4242 declined", None, ("CREDIT_CARD", "4242 4242 4242 4242")),
    ("MRN: 00482913", None, ("MEDICAL_RECORD_NUMBER", "00482913")),
    ("chart MRN-55899999 opened", None, ("MEDICAL_RECORD_NUMBER", "MRN-55899999")),
    ("member id: XKH482913377", None, ("HEALTH_PLAN_ID", "XKH482913377")),
    ("Medicare MBI 1EG4-TE5-MK73", None, ("HEALTH_PLAN_ID", "1EG4-TE5-MK73")),
    ("NPI 1234567893", None, ("US_NPI", "1234567893")),
    ("DEA AB1234563", None, ("US_DEA", "AB1234563")),
    ("diagnosed with type 2 diabetes", None, ("MEDICAL_CONDITION", "type 2 diabetes")),
    ("HIV test result", None, ("MEDICAL_CONDITION", "HIV")),
    ("refill sertraline 50mg", None, ("MEDICATION", "sertraline")),
    ("diagnosis E11.9", None, ("ICD10_CODE", "E11.9")),
    ("dx F411", None, ("ICD10_CODE", "F411")),
    ("key sk_live_51HqLyjWDarjtT1zdp7dcXsomething123", None, ("API_KEY", "sk_live_51HqLyjWDarjtT1zdp7dcXsomething123")),
    ("AKIAJ7Q2XK4LM9PZ3RTW", None, ("API_KEY", "AKIAJ7Q2XK4LM9PZ3RTW")),  # AWS's own EXAMPLE key is a doc value
    ("token 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", None,  # a valid CRC32 check
     ("API_KEY", "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")),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", None,
     ("AUTH_TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N")),
    ("cookie next-auth.session-token=a8F3kL0pQ2xZ7vB1nM4cR6tY9wE", None,
     ("AUTH_TOKEN", "a8F3kL0pQ2xZ7vB1nM4cR6tY9wE")),
    ("postgres://app:S3cretPass@db.internal:5432/app", None, ("CREDENTIAL", "S3cretPass")),
    ("password=hunter2go", None, ("CREDENTIAL", "hunter2go")),
    ("-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----" % _PEM_BODY, None,  # a plausible body
     ("PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----" % _PEM_BODY)),
]


@pytest.mark.parametrize("text,key,expected", TRUE_CASES, ids=[c[2][0] + ":" + c[0][:24] for c in TRUE_CASES])
def test_finds(engine, text, key, expected):
    assert expected in found(engine, text, key)


FALSE_CASES = [
    ("GET /api/appointments 200 in 35ms", None),
    ("Compiled successfully in 12.3s", None),
    ("Running \"next build\" with Next.js 14.2.3", None),
    ("trace 1b02cd14bb8642fd092bc23f54c7ffcd span f24e8631bd11faa7", None),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36", None),
    ("request 643af4e3-975a-4cc7-9e7a-1eda11539d90 done", None),
    ("Cache MISS for /dashboard, revalidating", None),
    ("React Server Components payload streamed", None),
    ("order 4000123412341235 shipped", None),  # 16 digits, not Luhn-valid
    ("NPI 1234567890", None),  # bad check digit
    ("DEA AB1234567", None),  # bad checksum
    ("secret: [Filtered]", None),
    ("password=********", None),
    ("token=true", None),
    ("Checkout", "name"),
    ("unknown", "dob"),
    ("deployment dpl_233NRGRjVZX1caZrXWtz5g1TAksD ready in iad1", None),
    ("Edge Middleware bundle 12.5 kB (limit 1 MB)", None),
    ("archive rotated", None),
    ("v1.2.3.4 released", None),
    ("blk_-5195120009388265 replicated", None),  # Luhn-valid digits inside an HDFS block id
    ("getaddrinfo for 195-154-37-122.rev.poneytelecom.eu failed", None),
    ("kernel: audit(1122475266.4294965305:0): initialized", None),
    ("at Sat Jun 18 02:08:12 2005", None),
    ("Bad activity token: android.os.BinderProxy@2bd79ce", None),
    ("03-17 16:13:46.187  2227  2227 I StackScroll", None),
    ("room A10 and C12 booked", None),
]


@pytest.mark.parametrize("text,key", FALSE_CASES, ids=[c[0][:30] for c in FALSE_CASES])
def test_leaves_alone(engine, text, key):
    assert found(engine, text, key) == set()


def test_machine_profile_skips_names_but_keeps_secrets(engine):
    assert found(engine, "Jane Doe", "host", profile="machine") == set()
    assert ("EMAIL_ADDRESS", "a@b.io") in found(engine, "a@b.io", "host", profile="machine")


def test_checksums():
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    # a passing checksum keeps the pattern's score (None); a failing one drops the match (False)
    assert NpiRecognizer().validate_result("1234567893") is None
    assert NpiRecognizer().validate_result("1234567890") is False
    assert DeaNumberRecognizer().validate_result("AB1234563") is None
    assert DeaNumberRecognizer().validate_result("AB1234567") is False


@pytest.mark.parametrize("key,entity", [("firstName", "PERSON"), ("patient_dob", "DATE_OF_BIRTH"), ("SSN", "US_SSN"),
                                        ("insuranceMemberId", "HEALTH_PLAN_ID"), ("hostname", None),
                                        ("filename", None), ("nextPageToken", None), ("ip_address", None)])
def test_key_hint_table(key, entity):
    assert KeyHintDetector().entity_for(normalize_key(key)) == entity


def test_noise_rules():
    assert is_machine_value("1b02cd14bb8642fd092bc23f54c7ffcd")
    assert is_machine_value("643af4e3-975a-4cc7-9e7a-1eda11539d90")
    assert is_machine_value("1234ms") and is_machine_value("14.2.3") and not is_machine_value("Jane Doe")
    assert not plausible_ip("Chrome/131.0.0.0", 7) and plausible_ip("from 10.1.2.3", 5)
    assert not plausible_ip("Package_for_KB2862330~31bf3856ad364e35~amd64~~6.1.2.0", 46, 53)
    assert not plausible_person("calling GET now", 8, 11, False)
    assert not plausible_person("useState hook", 0, 8, False)
    assert plausible_person("Dr. Smith", 4, 9, False)


def test_config_deny_and_key_hints(tmp_path):
    from pipeline.config import Config
    from pipeline.engine.scanner import ScanEngine
    from pipeline.engine.fingerprint import Fingerprinter
    from core.model import Event

    cfg = Config.model_validate({"detection": {
        "deny": [{"entity": "MEDICAL_CONDITION", "values": ["long covid"]},
                 {"entity": "MEDICAL_RECORD_NUMBER", "regexes": [r"\bTC-\d{6}\b"]},
                 {"entity": "PERSON", "field_paths": ["user.nick*"]}],
        "key_hints": {"PERSON": ["petowner"]},
        "allow": {"values": ["jane.doe@example.com"]},
    }})
    engine = ScanEngine(cfg, Fingerprinter(b"k"))
    ev = Event("vercel", "e1", "o", {"message": "follow-up for Long Covid, chart TC-123456",
                                      "user": {"nickname": "Bunny"}, "petOwner": "Maria",
                                      "note": "mail jane.doe@example.com"})
    got = {(f.field_path, f.entity_type) for f in engine.scan([ev]).findings}
    assert ("message", "MEDICAL_CONDITION") in got
    assert ("message", "MEDICAL_RECORD_NUMBER") in got
    assert ("user.nickname", "PERSON") in got
    assert ("petOwner", "PERSON") in got
    assert not any(path == "note" for path, _ in got)


def test_prefilter_engines_agree():
    import re

    from detectors.prefilter import TriggerSet
    from detectors.registry import TRIGGERS

    triggers = {**TRIGGERS, "caseless": re.compile("long covid", re.I)}
    fast, slow = TriggerSet(triggers), TriggerSet(triggers, use_hyperscan=False)
    assert slow.engine == "re"
    for text in ["Follow-up for LONG COVID", "ssn 512-48-9921 at 10.0.0.1", "Dr. Smith", "sk_live_x",
                 "café Ünïcode +44 20 7946 0958", "", "plain words only"]:
        assert fast.hits(text) == slow.hits(text), text


def test_dictionary_triggers_fire_wherever_the_dictionaries_match():
    """The dictionary triggers are the terms themselves now; never silent where the recognizer finds one."""
    import random

    from detectors.health import condition_recognizer, load_terms, medication_recognizer
    from detectors.prefilter import TriggerSet
    from detectors.registry import TRIGGERS

    rnd = random.Random(5)
    for name, make, data in (("MedicalConditionDictionary", condition_recognizer, "conditions.txt"),
                             ("MedicationDictionary", medication_recognizer, "medications.txt")):
        rec = make()
        rec.load()
        fast = TriggerSet({name: TRIGGERS[name]})
        slow = TriggerSet({name: TRIGGERS[name]}, use_hyperscan=False)
        terms = load_terms(data)
        fillers = ["", " ", "x", "dx: ", "(", "\u212a", "é", "_", "-", "\n", "GET /api/", "İ"]
        for _ in range(600):
            term = rnd.choice(terms)
            term = "".join(ch.upper() if rnd.random() < 0.3 else ch for ch in term)
            text = rnd.choice(fillers) + term + rnd.choice(fillers)
            if rec.analyze(text, rec.supported_entities):
                assert fast.hits(text) == slow.hits(text) == {name}, text
        assert fast.hits("GET /api/health 200 in 3ms") == set()  # machine text no longer runs them


MORE_CASES = [
    ("DOB: 2012/06/20", ("DATE_OF_BIRTH", "2012/06/20")),
    ("DOB: 20171011", ("DATE_OF_BIRTH", "20171011")),
    ("DOB: 12-Oct-1951", ("DATE_OF_BIRTH", "12-Oct-1951")),
    ("login from 2606:4700:4700::1111", ("IP_ADDRESS", "2606:4700:4700::1111")),
    ("Hi Victor, your visit is confirmed", ("PERSON", "Victor")),
    ("contact number +33 1 42 68 53 00", ("PHONE_NUMBER", "+33 1 42 68 53 00")),
    ("google token ya29.a0AfH6SMBx7Qz1_example_token_value_123", ("AUTH_TOKEN", "ya29.a0AfH6SMBx7Qz1_example_token_value_123")),
    ("patient address updated: 8922 Duran Mews, Wilsonmouth, NV 30423", ("STREET_ADDRESS", "8922 Duran Mews, Wilsonmouth, NV 30423")),
    ("PSC 3319, Box 0676, APO AA 41086", ("STREET_ADDRESS", "PSC 3319, Box 0676, APO AA 41086")),
    ("SMS to 001-684-855-2587x123 today", ("PHONE_NUMBER", "001-684-855-2587x123")),
    ("payment declined card=630466602525 exp=12/29", ("CREDIT_CARD", "630466602525")),
    ("redis://default:@2N!XBGq_Y$LUZ@cache.internal:6379", ("CREDENTIAL", "@2N!XBGq_Y$LUZ")),
]


@pytest.mark.parametrize("text,expected", MORE_CASES, ids=[c[1][0] + ":" + c[0][:24] for c in MORE_CASES])
def test_finds_more_shapes(engine, text, expected):
    assert expected in found(engine, text)


def test_place_and_device_keys_hold_no_people(engine):
    assert found(engine, "Port Kristin", "city") == set()
    assert found(engine, "Lake Jessica", "region") == set()
    assert ("PERSON", "Maria Gonzalez") in found(engine, "Maria Gonzalez", "patientName")


GENERALIZED_CASES = [
    # phones of every region: E.164, trunk-prefixed national formats, national numbers with context
    ("Brazil: +55 11 98456 5666", None, ("PHONE_NUMBER", "+55 11 98456 5666")),
    ("call me on 0044 20 7946 0958", None, ("PHONE_NUMBER", "0044 20 7946 0958")),
    ("My Japanese number is 090-1234-5678", None, ("PHONE_NUMBER", "090-1234-5678")),
    ("0 532 123 45 67", None, ("PHONE_NUMBER", "0 532 123 45 67")),
    ("Telepono: 09171234567", None, ("PHONE_NUMBER", "09171234567")),
    ("my phone number is 425 8829090", None, ("PHONE_NUMBER", "425 8829090")),
    # names beyond the census lists' pairs
    ("my name is Dan", None, ("PERSON", "Dan")),
    ("Patient Maria de la Cruz checked in", None, ("PERSON", "Maria de la Cruz")),
    ("Gonzalez", "family", ("PERSON", "Gonzalez")),
    ("Maria", "given", ("PERSON", "Maria")),
    # full US address spans, street-first international addresses with context
    ("1600 Pennsylvania Avenue NW, Washington, DC 20500", None,
     ("STREET_ADDRESS", "1600 Pennsylvania Avenue NW, Washington, DC 20500")),
    ("My address is 123 Main Street Apt 4B, Springfield, Illinois 62704", None,
     ("STREET_ADDRESS", "123 Main Street Apt 4B, Springfield, Illinois 62704")),
    ("She lives at 221B Baker Street, London NW1 6XE", None, ("STREET_ADDRESS", "221B Baker Street, London NW1 6XE")),
    ("Mi dirección es Calle de Alcalá 45, 28014 Madrid", None, ("STREET_ADDRESS", "Calle de Alcalá 45, 28014 Madrid")),
    # checksummed numbers with no context word; SSNs after a label in any 3-2-4 grouping
    ("4111111111111111", None, ("CREDIT_CARD", "4111111111111111")),
    ("3782 822463 10005", None, ("CREDIT_CARD", "3782 822463 10005")),
    ("1245319599", None, ("US_NPI", "1245319599")),
    ("FA1111119", None, ("US_DEA", "FA1111119")),
    ("my ssn is 078-051121", None, ("US_SSN", "078-051121")),
    # an SSN label wins over a phone guess for nine digits; a published sample number counts under a label
    ("my social security number is 512489921", None, ("US_SSN", "512489921")),
    ("my social security number is 078051120", None, ("US_SSN", "078051120")),
    # names: particles after an introduction, a greeted full name, hyphenated given names
    ("This is Pieter van der Berg calling", None, ("PERSON", "Pieter van der Berg")),
    ("Dear Tomasz Wiśniewski, your order shipped", None, ("PERSON", "Tomasz Wiśniewski")),
    ("Appointment booked for Jean-Luc Dubois on Monday", None, ("PERSON", "Jean-Luc Dubois")),
    ("The report was written by Sofía Herrera", None, ("PERSON", "Sofía Herrera")),
    ("Please call Hamza El Amrani back", None, ("PERSON", "Hamza El Amrani")),
    ("The report was written by Rashid bin Hamdan", None, ("PERSON", "Rashid bin Hamdan")),
    ("I spoke with Ifeoma Chukwu about the bill", None, ("PERSON", "Ifeoma Chukwu")),
    # two words no list knows, where prose says a person stands
    ("I spoke with Thandiwe Nkosi yesterday", None, ("PERSON", "Thandiwe Nkosi")),
    ("Giorgos Papadopoulos is allergic to penicillin", None, ("PERSON", "Giorgos Papadopoulos")),
    ("Regards,\nKeanu Kahale", None, ("PERSON", "Keanu Kahale")),
    # international postcodes before the town (PT, PL, SE) with address context
    ("My address is Rua Augusta 150, 1100-053 Lisboa", None, ("STREET_ADDRESS", "Rua Augusta 150, 1100-053 Lisboa")),
    ("adres: Marszałkowska 10, 00-950 Warszawa", None, ("STREET_ADDRESS", "Marszałkowska 10, 00-950 Warszawa")),
    ("My address is 25 Rue de Rivoli, 75001 Paris", None, ("STREET_ADDRESS", "25 Rue de Rivoli, 75001 Paris")),
    # the street's kind in lower case (FR, IT), and a Canadian province and postcode after the town
    ("adresse : 12 rue de Rivoli, 75001 Paris", None, ("STREET_ADDRESS", "12 rue de Rivoli, 75001 Paris")),
    ("indirizzo: 10 via Roma, 00184 Roma", None, ("STREET_ADDRESS", "10 via Roma, 00184 Roma")),
    ("address 301 Front St W, Toronto, ON M5V 2T6", None, ("STREET_ADDRESS", "301 Front St W, Toronto, ON M5V 2T6")),
    ("Ship to Av. Paulista 1578, 01310-200 São Paulo", None, ("STREET_ADDRESS", "Av. Paulista 1578, 01310-200 São Paulo")),
    ("lives at Flat 3, 14 Kings Road, London SW3 4UD", None, ("STREET_ADDRESS", "Flat 3, 14 Kings Road, London SW3 4UD")),
    # mobiles written without their trunk 0 (India, China, Turkey, Brazil), with context
    ("Please text 98765 43210 when ready", None, ("PHONE_NUMBER", "98765 43210")),
    ("my cell 138 0013 8000", None, ("PHONE_NUMBER", "138 0013 8000")),
    ("celular (11) 98456-5666", None, ("PHONE_NUMBER", "(11) 98456-5666")),
    # `call` is a spaCy stop word: Presidio's context enhancement never sees it, the recognizer does
    ("Call me at 06-12345678", None, ("PHONE_NUMBER", "06-12345678")),
    ("Call me at (11) 98456-5666", None, ("PHONE_NUMBER", "(11) 98456-5666")),
    ("5558675309 is my cell", None, ("PHONE_NUMBER", "5558675309")),  # a phone word after the number
    ("call 5558675309", None, ("PHONE_NUMBER", "5558675309")),
    # private and loopback addresses are reported under the default policy
    ("Primary: 10.0.0.1", None, ("IP_ADDRESS", "10.0.0.1")),
    ("connecting from ::1", None, ("IP_ADDRESS", "::1")),
]


@pytest.mark.parametrize("text,key,expected", GENERALIZED_CASES, ids=[c[2][0] + ":" + c[0][:24] for c in GENERALIZED_CASES])
def test_finds_beyond_us_shapes(engine, text, key, expected):
    assert expected in found(engine, text, key)


@pytest.mark.parametrize("text,key", [
    ("081110 210146 28 INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock", None),  # a date-time stamp
    ("03-17 16:16:00.505  2227  2227 V PhoneStatusBar: setLights", None),  # time and pid columns
    ("attempt_1445144423722_0020_m_000004_0 is : 0.36388028", None),  # a progress fraction
    ("1445432400 2015 7 4111 1111", None),  # an epoch, a year and counters are no card
    ("1111111112", None),  # a one-digit run passes Luhn by chance
    ("ASSERT", "condition"),  # an enum, not a diagnosis
    ("Chrome Mobile", "family"),  # a browser family, not a surname
    ("2024-05-01", "last"),
    ("text2001:db8::1", None),
    ("id 123-45-6789 and 078-05-1120", None),  # published sample SSNs with no label
    ("job number 5321234567", None),  # an unformatted run is no habit-written mobile
    ("order 5558675309 shipped", None),  # ten bare digits with no phone word near
    ("Wireless Mouse added to cart", None),  # capitalised common words, no given name among them
    ("Clock Mode set to 24h", None),
    ("Normal Sleep entered", None),
    ("request from Kubelet Cadvisor failed", None),  # software words, where prose could name a person
    ("Julia Runtime error", None),  # a given name before a software word
    ("Grace Period is over", None),
    ("node 11.3.244.8-node.38 started", None),  # V8's version, not an address
    ("release 4.2.2.0-rc1", None),
    ("Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production", None),  # after `Release`
    ("Process(9884.1) User(root) VRMF(9.1.0.0) Time(2026-10-11T08:39:30.731Z)", None),  # IBM MQ's version
    ("IBM MQ system information: Version:- 9.4.0.20 (p940-020)", None),
    ("Installation      :- /opt/mqm\nVersion           :- 9.1.0.0 (p910-L180709.TRIAL)", None),
    ('"tls": {"serial": "5C:9C:E1:09:78:87:F8:07", "version": "TLS 1.2"}', None),  # a serial in colon-hex
    # a timestamp's date and hour are no phone, whatever phone word the line holds (`call`)
    ("call purge_stats(1, '2019-03-11 00:00:00');", None),
    ("Mar 09 2014 07:41:33 FW-EDGE2 : %FW-6-302021: Teardown call for faddr outside/0", None),
    # a checksum alone, in a row of numeric fields, is chance: an epoch as an NPI, counters as a card
    ("20311 node-41 action start 1131746400 1 clusterAddMember (command 2201)", None),
    ("7781 node-12 node psu 1131746700 1 Fan speeds ( 3552 3534 3375 4354 3515 3479 )", None),
    ("Server Microsoft SQL Server 2019 (RTM-CU4) (KB4466404) - 15.0.4033.1 (X64)", None),  # a KB article
    ("Installing security update KB4466404 for Windows", None),
    ("modem attached: iccid 8901260882310583942 imei 356938035643809", None),  # IMEIs pass Luhn by design
    ("tel 1 2 3 4 5 6 7 8 9 10 11 12", None),  # one-digit counts after a phone word are no phone
    ("cluster born 2019-04-11 08:00:00 UTC", None),  # a timestamp's date is no birth date
    # the digits of an identifier under an id-named key, in a field or a key=value line
    ("0102043014", "logid"),
    ("1245319599", "eventId"),
    # the English NER model on another language's capitalised nouns, and on a span running into a label
    ("AMQ7125I: Der Probezeitraum fuer dieses Exemplar von IBM MQ endet in 84 Tagen.", None),
    ("Alle Aufgaben, die zur Festlegung der Installation erforderlich sind, wurden erledigt.", None),
    ("Subject: Security ID: S-1-5-18 Account Domain: WORKGROUP Logon ID: 0x3E7 Logon Type: 5", None),
    ("Network Configuration Detail\n Tunneling Timeout       40s\n Tunneling Ping          45s", None),
    ("Max Retries reached for job 7", None),  # a given name before a word no surname list holds
    ("Bill Payment service healthy", None),
    ("Mark Sweep collector finished in 12ms", None),
    # a `Name:` label before the head of a machine token
    ("Defender has detected malware. Name: Trojan:Win32/Wacatac.B!ml ID: 2147735503 Severity: Severe", None),
    # Cassandra's token ring: 19-digit numbers by the hundred, a few Luhn-valid by chance
    ("localhost/127.0.0.1:[-9213409579976581007, 2283828190095512675, 526093410792433875, 2220336291482261989]"
     .replace("localhost/127.0.0.1:", "ring:"), None),
    # hundredths of a second and aligned columns are no house number and street
    ("2026-07-08 05:42:11.30 Server      Common language runtime (CLR) functionality initialized.", None),
], ids=lambda v: str(v)[:30])
def test_leaves_machine_text_alone(engine, text, key):
    assert not found(engine, text, key)


@pytest.mark.parametrize("text,entity", [
    ("charged 4111 1111 1111 1111 today", "CREDIT_CARD"),  # a printed value among words stays a bare finding
    ("provider 1245319599", "US_NPI"),
    ("1245319599", "US_NPI"),
    ("prescriber AB1234563 signed", "US_DEA"),
    ("NPI 1245319599 9 refills", "US_NPI"),  # a label vouches, numbers beside it or not
    ("card 4111111111111111 12 27", "CREDIT_CARD"),
    ("4111111111111111 12/27 123", "CREDIT_CARD"),  # a card beside its expiry is no row of counters
])
def test_checksummed_numbers_outside_numeric_rows_are_kept(engine, text, entity):
    assert entity in {e for e, _ in found(engine, text)}


def test_an_id_keys_digits_in_a_key_value_line_are_no_phone(engine):
    from core.model import Event

    line = 'date=2026-04-23 time=12:32:48 devname="fw3" logid="0101037124" type="event" subtype="vpn"'
    findings = engine.scan([Event("lines", "l:1", "l:1", {"message": line})]).findings
    assert not [f for f in findings if f.entity_type == "PHONE_NUMBER"]


@pytest.mark.parametrize("text,key", [("0612345678", "callerid"), ("0612345678", "phone"),
                                      ("logid=7 mobile=0612345678", None)])
def test_phone_keys_ending_in_id_still_hold_phones(engine, text, key):
    assert "PHONE_NUMBER" in {e for e, _ in found(engine, text, key)}


@pytest.mark.parametrize("text,name", [
    ("Name: Jane Doe DOB: 01/02/1980", "Jane Doe"),  # a known name before the next label
    ("my name is Dan.", "Dan"),
    ("Llamé a María García ayer por la tarde", "María García"),  # a known name in another language's prose
    ("The caregiver, Aroha Ngata, will pick it up", "Aroha Ngata"),  # short English words are English
    ("Jane Doe        jane.doe@example.org", "Jane Doe"),  # a known name in a table's name column
    ("Yesterday Max Power has paid the invoice", "Max Power"),  # a given name and a word, where prose names a person
    ("kernel: Linux Plug and Play Support v0.97 (c) Adam Belay", "Adam Belay"),  # an author's mark names one
    ("Name: Thandiwe Nkosi Phone: 0612345678", "Thandiwe Nkosi"),  # a name label vouches before the next label
])
def test_names_next_to_labels_and_in_other_languages_are_kept(engine, text, name):
    assert ("PERSON", name) in found(engine, text)


def test_a_list_of_printed_cards_is_no_row_of_fields(engine):
    text = "5105105105105100 5105-1051-0510-5100 5105 1051 0510 5100"
    assert {v for e, v in found(engine, text) if e == "CREDIT_CARD"} == set(text.split(" ", 2)[:2]) | {text[37:]}
    spaced = "4111 1111 1111 1111 5105 1051 0510 5100 4012 8888 8888 1881"  # one after another, one space apart
    assert len([e for e, _ in found(engine, spaced) if e == "CREDIT_CARD"]) == 3


def test_bare_checksummed_numbers_say_so_in_their_score(engine):
    from detectors.healthcare import BARE_CHECKSUM_SCORE

    (bare,) = engine.analyzer.analyze([Task("4111111111111111", "", None, "full")])
    (labelled,) = engine.analyzer.analyze([Task("card 4111111111111111", "", None, "full")])
    assert [m.score for m in bare] == [BARE_CHECKSUM_SCORE] and BARE_CHECKSUM_SCORE >= 0.5
    assert labelled[0].score > BARE_CHECKSUM_SCORE


def test_ip_policy_public_only_drops_private_and_loopback():
    text = "from 10.0.0.1 and 127.0.0.1 via 8.8.8.8"
    spans = [(5, 13), (18, 27), (32, 39)]
    assert all(plausible_ip(text, s, e) for s, e in spans)
    assert [plausible_ip(text, s, e, public_only=True) for s, e in spans] == [False, False, True]
    assert plausible_ip("clientIp 10.0.0.1", 9, 17, key="clientIp", public_only=True)


@pytest.mark.parametrize("text", ["1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "0.0.0.0", "10.0.0.1/24",
                                  "10.0.0.1/33", "10.0.0.1/032", "1.2.3.4/0", "999.1.1.1", "00.1.1.1", "1.2.3.4/08",
                                  "::1", "fe80::1/64", "1.2.3"])
def test_ip_fast_invalidation_agrees_with_ipaddress(text):
    import ipaddress

    from detectors.contact import LeanIpRecognizer

    try:
        ipaddress.ip_interface(text)
        invalid = False
    except ValueError:
        invalid = True
    assert bool(LeanIpRecognizer().invalidate_result(text)) is invalid


def test_pattern_gates_never_hide_a_match():
    """A pattern's gate (a literal it needs) passes wherever the pattern matches."""
    import regex

    from detectors.contact import LeanIpRecognizer, LeanSsnRecognizer, NanpPhoneRecognizer
    from detectors.healthcare import NpiRecognizer, StreetAddressRecognizer

    texts = [c[0] for c in TRUE_CASES + GENERALIZED_CASES + MORE_CASES] + [
        "Flat 3, 14 Kings Road, London SW3 4UD", "Unit 7 22 Main Street", "ul. Marszałkowska 10,\n00-950 Warszawa",
        "25 Rue de Rivoli,\t75001 Paris", "Hauptstraße 5, D-10115 Berlin", "Av. Paulista 1578, 01310-200 São Paulo",
        "2001:db8::8a2e:370:7334", "::ffff:192.0.2.128", "64:ff9b::192.0.2.33", "::", "fe80::1%eth0", "::1",
        "10.0.0.1/8", "1:2:3:4:5:6:7:8", "client=[2001:db8:85a3:0:0:8a2e:370:7334]:443",
        "ssn 078051121", "07805-1121", "078-051121", "call 5558675309", "+15558675309 ext 4", "SSN:078051121.",
        "PSC 1234, Box 5678, APO AE 09012", "Unit 4321 Box 12, DPO AP 96522", "P.O. Box 12, Springfield, IL 62701",
        "PO Box 7", "npi 1234-567-893", "1234 567 893"]
    checked = 0
    for rec in (StreetAddressRecognizer(), LeanIpRecognizer(), LeanSsnRecognizer(), NanpPhoneRecognizer(),
                NpiRecognizer()):
        for pattern in rec.patterns:
            gate = rec.PATTERN_GATES.get(pattern.name)
            if gate is None:
                continue
            rx = regex.compile(pattern.regex, flags=rec.global_regex_flags)
            for text in texts:
                if rx.search(text):
                    checked += 1
                    assert gate(text), (pattern.name, text)
    assert checked > 20  # the texts do reach the gated patterns


def test_phone_trigger_covers_every_phone_context_word():
    """The region search opens on a phone word; the recognizer's trigger must fire on each of them."""
    from detectors.contact import PHONE_CONTEXT, _CONTEXT_WORD
    from detectors.registry import TRIGGERS

    trigger = TRIGGERS["PhoneRecognizer"]
    for word in PHONE_CONTEXT:
        text = f"{word} me at 98765 43210"
        if _CONTEXT_WORD.search(text):
            assert trigger.search(text), word


def test_hashed_words_answer_as_a_set_of_the_words_would():
    """The common-word list is kept as sorted hashes (1.6 MB, not a 21 MB set): same answers, comments ignored."""
    from detectors.noise import HashedWords, is_common_word

    words = HashedWords(b"# a header line\naal\nclock\nmouse\n#not a word\nzythum")
    assert all(w in words for w in ("aal", "clock", "mouse", "zythum"))
    assert not any(w in words for w in ("", "a header line", "not a word", "mice", "clocks", "keanu"))
    assert is_common_word("Mouse") and is_common_word("Clocks") and is_common_word("runtime")
    assert not is_common_word("Keanu") and not is_common_word("Adeyemi") and not is_common_word("Sofía")


@pytest.mark.parametrize("text, credential", [
    ("see https://username:password@example.com/ now", False),  # a placeholder password: nothing at all
    ("visit http://jane:pw@x.com", False),
    ("see https://username:hunter2x9Q@example.com/ now", True),
    ("DATABASE_URL=postgres://svc:Zq8-pW3rT9@db.internal:5432/app", True),
])
def test_a_urls_user_info_is_no_email(engine, text, credential):
    """The key/value views split `//user:password@host` at its colon and showed `password@host` to the
    email recognizer: a false EMAIL wherever no credential won the overlap. User info is no pair."""
    from core.model import Event

    types = {f.entity_type for f in engine.scan([Event("vercel", "e1", "o", {"message": text})]).findings}
    assert "EMAIL_ADDRESS" not in types
    assert ("CREDENTIAL" in types) is credential


# shapes at the edges of the triggers: a value glued to its label, an extension, epochs, ids holding digits
_TRIGGER_EDGE_TEXTS = [
    "ssn078051121", "SSN:078-05-1121", "social security number is 078 05 1121", "deaAB1234563", "DEA#AB1234563",
    "dea registration:FB9512388", "npi#1234567893", "NPI 1234-567-893", "dx:E11.9", "ICD-10: E119", "diagnosis code F32",
    "(555) 123-4567x89", "call 555.123.4567 ext 12", "+1 555 123 4567", "5551234567", "1733012345678",
    "XKH366186631", "member id XKH366186631", "card 4111111111111111", "4111-1111-1111-1111", "mrn:00123456",
    "MRN-0012345", "dob:03/12/1984", "born on March 12, 1984", "2001:db8::1", "::ffff:10.0.0.1", "10.0.0.1",
    "a@b.co", "x.y+z@mail.example.org", "1 Main St, Springfield, IL 62701", "PSC 1234, Box 5678, APO AE 09012",
    "Hi 京助, your visit", "Hi Étienne Poulain, your visit", "My name is Şendoğan Yılmaz", "I am 和也 藤井",
    "Dear داهي مذحج,", "Thanks Adeolu!", "this is Ömer",
]


def _trigger_texts() -> list[str]:
    import json
    from pathlib import Path

    from core.paths import iter_leaves
    from samples.generate import generate
    from tests.conftest import SHARED

    texts = [c[0] for c in TRUE_CASES + GENERALIZED_CASES + MORE_CASES] + _TRIGGER_EDGE_TEXTS
    for path in sorted((Path(__file__).parent / "data").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    for rec, _ in generate(400, 11):
        texts += [leaf.text for leaf in iter_leaves(rec)]
    peer = SHARED / "peer-cases" / "dev.jsonl"
    if peer.is_file():  # other projects' strings, where present: shapes nobody here wrote
        texts += [json.loads(line)["text"] for line in peer.read_text(encoding="utf-8").splitlines() if line]
    return texts


def test_every_trigger_fires_wherever_its_recognizer_finds_something():
    """A trigger gates its recognizer: it may fire for nothing, never stay silent where the recognizer matches.

    Each recognizer runs on every text, trigger or not, over the unit cases, the case files, generated
    telemetry, other projects' strings (where ../shared is present) and shapes at the triggers' edges.
    """
    from detectors.prefilter import TriggerSet
    from detectors.registry import RECOGNIZERS, TRIGGERS

    texts = _trigger_texts()
    fast, slow = TriggerSet(TRIGGERS), TriggerSet(TRIGGERS, use_hyperscan=False)
    silent, reached = [], set()
    for name, (factory, _) in RECOGNIZERS.items():
        rec = factory()
        if hasattr(rec, "load"):
            rec.load()
        for text in texts:
            # Presidio's bare `::` (IPv6_unspecified, 0.1) is left out: with every context bonus it stays under
            # the threshold, and a trigger for it would run the IP patterns on every `::=` and `std::`
            if any(r.score > 0.1 for r in rec.analyze(text, rec.supported_entities)):
                reached.add(name)
                if name not in fast.hits(text) or name not in slow.hits(text):
                    silent.append((name, text[:80]))
    assert not silent, silent[:10]
    assert len(reached) >= len(RECOGNIZERS) - 2, set(RECOGNIZERS) - reached  # the texts reach nearly all


def test_span_finder_gives_the_matches_of_the_whole_text_search():
    """Hyperscan narrows where `re` searches the secret-word alternation, on texts of every length (a short
    log line searched by `re` alone cost 60 us): the matches are those of `rx.finditer` over the whole text."""
    from detectors.prefilter import SpanFinder, hyperscan
    from detectors.secrets_context import _trigger_spans

    if hyperscan is None:
        pytest.skip("hyperscan is not installed here: SpanFinder is plain re")
    finder = _trigger_spans()
    texts = _trigger_texts()
    texts += [t[i:i + n] for t in texts[:300] for i in (0, 3) for n in (5, 20, 47, 48, 49)]
    for text in texts:
        assert [m.span() for m in finder.finditer(text)] == [m.span() for m in finder.rx.finditer(text)], text[:80]


def test_a_text_left_unqueued_is_one_the_analyzer_finds_nothing_in(engine):
    """The scanner queues no task where `triggered` says nothing can match: the analyzer agrees on every
    text (each profile, with and without a key hints name), and the texts are not all of one kind."""
    from detectors.analyzer import Task

    analyzer = engine.analyzer
    idle = 0
    for text in _trigger_texts():
        for key, profile in (("", "full"), ("message", "full"), ("host", "machine"), ("dob", "full"), ("ssn", "machine")):
            if analyzer.triggered(text, key, profile) is None:
                idle += 1
                assert analyzer._analyze_one(Task(text, key, key, profile), None) == [], (key, profile, text[:80])
    assert idle > 500


def test_name_pattern_gates_never_hide_a_name(monkeypatch):
    """The gazetteer's rarer patterns run only where a literal they need is present: the same names as always."""
    import detectors.names as names

    rec = names.NameGazetteerRecognizer()
    texts = _trigger_texts() + [
        "Hi Victor, your visit is confirmed", "Dear\u00a0Tomasz Wiśniewski,", "Thank you Maria", "Dr.\tOkafor",
        "Mrs Smith called", "Prof. Nakamura", "my name is Dan", "MY NAME IS DAN", "thiſ is Dan", "I'M Oluwaseun Adeyemi",
        "Ludwig van\u2003Beethoven", "Maria de la Cruz", "Ahmed bin Salem", "Pieter van der Berg", "call me Hilda"]
    gated = [[(r.start, r.end) for r in rec.analyze(t, ["PERSON"])] for t in texts]
    monkeypatch.setattr(names, "_GATES", {k: (lambda text: True) for k in names._GATES})
    ungated = [[(r.start, r.end) for r in rec.analyze(t, ["PERSON"])] for t in texts]
    assert gated == ungated
    assert sum(map(len, gated)) > 100  # the texts hold names all four patterns find


def test_email_windows_give_the_whole_text_matches():
    """Searching around each `@` finds exactly what Presidio's pattern finds over the whole text."""
    import random

    import regex

    from detectors.contact import OfflineEmailRecognizer

    rec = OfflineEmailRecognizer()
    (pattern, rx, _), = rec._compiled_patterns()
    whole = regex.compile(pattern.regex, flags=rec.global_regex_flags)
    rnd = random.Random(3)
    alphabet = ["a", "b", "Z", "1", "_", ".", "-", "+", "@", "@", " ", "/", ":", "é", "%", "=", "'", "com", "io", "\n"]
    texts = _TRIGGER_EDGE_TEXTS + ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(5000)]
    for text in texts:
        assert [m.span() for m in rec._finditer(rx, text, None)] == [m.span() for m in whole.finditer(text)], text


@pytest.mark.parametrize("text, key, name", [
    ("عماد العفيفي", "patient_name", "عماد العفيفي"),
    ("陽一", "firstName", "陽一"),
    ("van der Leek", "lastName", "van der Leek"),
    ("Emily Ó Bric", "patientName", "Emily Ó Bric"),
    ("Nguyễn", "last_name", "Nguyễn"),
    ("Şendoğan Çamurcuoğlu", "fullName", "Şendoğan Çamurcuoğlu"),
    ("Hi Adeolu, your appointment is confirmed for Tuesday", "message", "Adeolu"),
    ("Hi 京助, your appointment is confirmed", "message", "京助"),
    ("My name is Étienne Poulain and I need a refill", "message", "Étienne Poulain"),
    ("I am 和也 藤井, calling about my refill", "message", "和也 藤井"),
    ("INFO intake saved patient=Thabisile Gumede visit=telehealth", "message", "Thabisile Gumede"),
    ("appointment for Michelle McKay today", "message", "Michelle McKay"),
    ("Sean O'Brien booked a follow-up", "message", "Sean O'Brien"),
    ("patient Angus MacDonald arrived", "message", "Angus MacDonald"),
])
def test_names_of_every_script_and_unlisted_given_names(engine, text, key, name):
    """Names the census lists do not hold, or that no capital marks: under a name key, after a greeting
    that addresses them, after a self-introduction, or after `patient=` in a log line."""
    spans = [v for t, v in found(engine, text, key) if t == "PERSON"]
    assert name in spans, spans


@pytest.mark.parametrize("text", [
    "Hi Team, the build is green", "Hello Kubernetes! cluster ready", "Dear Customer, your order shipped",
    "Hi there, thanks", "Hello World", "Hi Admin, 3 jobs failed",
])
def test_greetings_to_things_are_no_names(engine, text):
    assert not [v for t, v in found(engine, text, "message") if t == "PERSON"]


@pytest.mark.parametrize("payload, path, name", [
    ({"traits": {"name": "Oluwaseun Adeyemi", "plan": "pro"}}, "traits.name", "Oluwaseun Adeyemi"),  # Segment
    ({"user": {"id": "u1", "name": "Nguyễn Văn An"}}, "user.name", "Nguyễn Văn An"),  # Sentry
    ({"patients": [{"name": "Thabisile Gumede"}]}, "patients[0].name", "Thabisile Gumede"),
    ({"properties": {"patient": {"displayName": "Hilda"}}}, "properties.patient.displayName", "Hilda"),
    ({"event": {"name": "Checkout Started"}}, None, None),  # not a person object: a known full name only
    ({"sdk": {"name": "Sentry Python"}}, None, None),
    ({"user": {"name": "Admin User"}}, None, None), ({"user": {"name": "Google"}}, None, None),
    ({"traits": {"name": "jdoe"}}, None, None), ({"customer": {"name": "Test Account"}}, None, None),
])
def test_a_name_inside_a_person_object_is_that_persons(engine, payload, path, name):
    """A bare `name` is a person's only where the object holding it is one (`traits`, `user`, `patients[i]`);
    there any two to four name words count, or one listed given name, and never a thing's name."""
    findings = engine.scan([Event("segment", "e1", "o", payload)]).findings
    found_names = [(f.field_path, resolve(payload, f.field_path)[f.start:f.end]) for f in findings
                   if f.entity_type == "PERSON"]
    assert found_names == ([(path, name)] if name else [])
    assert all(f.field_key in (None, "name", "displayName") for f in findings)  # the hint key is never stored


def test_labelled_patterns_report_what_their_look_behind_form_did():
    """`labelled` (forward from the label, value as a group) gives the spans `(?<=label sep)value` gave."""
    import random

    import regex

    from detectors.base import LABEL_SEP, VALUE_GROUP, labelled
    from detectors.contact import _SSN_LABEL
    from detectors.healthcare import DATE_VALUE

    cases = [
        (r"mrn|medical[\s_-]*record(?:[\s_-]*(?:number|num|no\.?|#|id))?",
         r"(?=[A-Z0-9-]*\d{4})[A-Z]{0,4}-?\d{4,12}(?:-\d{1,4})?\b", 0),
        (_SSN_LABEL, r"\d{3}[- .]?\d{2}[- .]?\d{4}\b", 0),
        (r"dob|date[\s_-]*of[\s_-]*birth|born(?:\s+on)?", DATE_VALUE + r"\b", 0),
        (r"icd(?:-?10)?(?:-?cm)?|dx", r"[A-TV-Z][0-9][0-9AB](?:\.?[0-9A-TV-Z]{1,4})?\b", 1),
    ]
    pieces = ["mrn", "MRN", "ssn", "ssn is", "dob", "born on", "dx", "icd-10", " ", ":", "#", "=", '"', "-", "--",
              "0012", "3456", "78", "078-05-1121", "1984-03-12", "03/12/1984", "AB", "E11.9", "x", "\n"]
    rnd = random.Random(9)
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12))) for _ in range(4000)]
    for label, value, least in cases:
        forward = regex.compile(labelled(label, value, least=least), flags=regex.M | regex.S)
        behind = regex.compile(rf"(?i:(?<=\b(?:{label}){LABEL_SEP}{{{least},4}}))" + value, flags=regex.M | regex.S)
        for text in texts:
            assert [m.span(VALUE_GROUP) for m in forward.finditer(text)] == [m.span() for m in behind.finditer(text)], \
                (label[:20], text)


def test_the_packed_icd10_list_answers_as_the_plain_set_of_its_codes():
    """The code list is held packed per category (memory); membership must be the plain set's."""
    import random

    from detectors.health import icd10_codes, load_terms

    terms = load_terms("icd10cm_codes.txt")
    plain, packed = frozenset(terms), icd10_codes()
    assert len(packed) == len(plain) > 90_000
    assert all(t in packed for t in terms)
    rng = random.Random(7)
    probes = ["", "A0", "a00", "E11.9 ", "E11.9|", "E11|.9", "E11.9\x00", "\udcff", "É11.9", None, 119,
              "A00.00000000"] + [f"{rng.choice('ABEFZ')}{rng.randint(0, 99):02d}.{rng.randint(0, 9999)}"
                                 for _ in range(5000)]
    assert [p for p in probes if (p in packed) != (isinstance(p, str) and p in plain)] == []


def test_a_task_whose_caller_keeps_the_answer_is_not_cached_twice(engine):
    """One-view leaves are cached by the scanner (`Task.cache=False`): the analyzer keeps no copy,
    and answers the same either way."""
    analyzer = engine.analyzer
    text = "reach me at cache-probe-7f3a@example.org please"
    kept, unkept = Task(text, "note", "note", "full"), Task(text, "memo", "memo", "full", cache=False)
    before = len(analyzer._cache)
    (a,) = analyzer.analyze([unkept])
    assert len(analyzer._cache) == before
    (b,) = analyzer.analyze([kept])
    assert len(analyzer._cache) == before + 1
    assert [(m.entity_type, m.start, m.end) for m in a] == [(m.entity_type, m.start, m.end) for m in b] != []


@pytest.mark.parametrize("payload, path, name", [
    # a person key's plain string: a given name and a surname of the lists, one listed given name, or a
    # Chinese or Korean name written as one run
    ({"patient": "Maria Gonzalez"}, "patient", "Maria Gonzalez"),
    ({"doctor": "Sarah Chen"}, "doctor", "Sarah Chen"),
    ({"user": "John"}, "user", "John"),
    ({"patient": "李小龙"}, "patient", "李小龙"),
    ({"message": "patient=김민준 checked in"}, "message", "김민준"),
    # in a `key: value` line the name is whole, not cut at the first space of an unquoted value
    ({"message": "patient: Maria Gonzalez checked in"}, "message", "Maria Gonzalez"),
    ({"message": "Contact person: Astrid Lindqvist"}, "message", "Astrid Lindqvist"),
    ({"users": ["Wei Zhang"]}, "users[0]", "Wei Zhang"),
    # tiers, insurers, teams, placeholders and ids under the same keys
    ({"member": "Gold Tier"}, None, None),
    ({"customer": "Blue Cross"}, None, None),
    ({"owner": "Data Platform"}, None, None),
    ({"user": "Admin"}, None, None),
    ({"user": "Default User"}, None, None),
    ({"patient": "Active"}, None, None),
    ({"user": "u_12345"}, None, None),
    ({"superuser": "Gold Tier"}, None, None),
    # URL slugs after a segment that names people
    ({"url": "https://app.acme.health/patients/maria-gonzalez/chart"}, "url", "maria-gonzalez"),
    ({"message": "GET /api/patients/john-smith-1984-03-12/records 200"}, "message", "john-smith"),
    ({"patient": "maria-gonzalez"}, "patient", "maria-gonzalez"),  # a slug under a people key, as in a path
    ({"url": "/members/grace-period/renew"}, None, None),
    ({"url": "/patients/new-visit"}, None, None),
    ({"url": "/docs/maria-gonzalez"}, None, None),  # no people segment before it
    # greetings of app titles and toasts
    ({"page_title": "Welcome back, Maria | Acme"}, "page_title", "Maria"),
    ({"toast": "Good morning, Oluwaseun!"}, "toast", "Oluwaseun"),
    ({"page_title": "Welcome Page"}, None, None),
    ({"page_title": "Welcome back, Admin"}, None, None),
])
def test_people_keys_slugs_and_greetings_name_a_person(engine, payload, path, name):
    """Where telemetry holds a person as a plain value: under a key that is a person (`patient`, `doctor`),
    in a URL after `/patients/`, after an app's greeting. Each rule asks the name lists, since the same
    places hold tiers, plans and page names."""
    assert _person_spans(engine, payload) == ([(path, name)] if name else [])


@pytest.mark.parametrize("payload,path,name", [
    # handles and search boxes: a listed given name and surname, glued or in lower case
    ({"username": "maria.gonzalez"}, "username", "maria.gonzalez"),
    ({"login": "ivan_petrov84"}, "login", "ivan_petrov"),
    ({"message": "login ok user=ivan_petrov"}, "message", "ivan_petrov"),
    ({"referrer": "https://app.acme.health/members/jose.martinez/billing"}, "referrer", "jose.martinez"),
    ({"url": "https://app.acme.health/search?q=aarav+sharma"}, "url", "aarav+sharma"),
    ({"username": "jsmith84"}, None, None),
    ({"username": "mark.down"}, None, None),  # two dictionary words
    ({"q": "rose hill"}, None, None),
    ({"q": "blood pressure"}, None, None),
    ({"username": "admin"}, None, None),
    # capitals, as claims and EDI records write names
    ({"message": "Insurance claim denied for member ABDULLAH KHAN"}, "message", "ABDULLAH KHAN"),
    ({"message": "PATIENT NAME: JAMES O'BRIEN"}, "message", "JAMES O'BRIEN"),
    ({"message": "GRANT ACCESS TO ROLE"}, None, None),
    ({"message": "BILL TO: ACME CORP"}, None, None),
    ({"message": "WILL CALL PICKUP"}, None, None),
    ({"message": "FATAL ERROR CONNECTION RESET BY PEER"}, None, None),
    # surname first, as lists and charts sort people
    ({"message": "Appointment booked for Gonzalez, Maria at 3pm"}, "message", "Gonzalez, Maria"),
    ({"message": "patient: van der Berg, Anneke"}, "message", "van der Berg, Anneke"),
    ({"message": "Austin, Texas"}, None, None),
    ({"message": "Jackson, Mississippi"}, None, None),
    ({"message": "Chrome, Safari, Firefox"}, None, None),
    # a surname after a patient word; names with a second capital; a person word before unlisted names
    ({"message": "Note: pt Ramirez reports chest pain"}, "message", "Ramirez"),
    ({"message": "patient Record updated"}, None, None),
    ({"message": "Failed to sync record for DeShawn Jackson"}, "message", "DeShawn Jackson"),
    ({"message": "account owner: Thandiwe Nkosi"}, "message", "Thandiwe Nkosi"),
])
def test_names_in_handles_capitals_and_sorted_order(engine, payload, path, name):
    """Names as telemetry also writes them: glued into a login handle or typed into a search box, in
    capitals, surname first. Both words must be a listed given name and surname (not two dictionary
    words), since the same shapes hold constants, places and roles."""
    assert _person_spans(engine, payload) == ([(path, name)] if name else [])


def _person_spans(engine, payload) -> list[tuple[str, str]]:
    """(field path, text) of each PERSON finding of `payload` scanned as one event."""
    findings = engine.scan([Event("posthog", "e1", "o", payload)]).findings
    return [(f.field_path, resolve(payload, f.field_path)[f.start:f.end]) for f in findings
            if f.entity_type == "PERSON"]
