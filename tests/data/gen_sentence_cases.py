"""Writes `sentence_cases.jsonl`: our own template sentences in the style of presidio-research's corpus.

Names of many origins (with particles: `van der`, `de la`, `bin`), US addresses as full spans and
international ones with context, phones in national formats with context, emails and cards, in
sentence templates as chat messages, support tickets and form echoes carry them. The templates and
the values are ours; `python -m tests.data.gen_sentence_cases` regenerates the committed file
(or writes to a path given), and the test checks that the committed file is what it writes.
"""

from __future__ import annotations

import json
import random
import sys
import re
from pathlib import Path

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sentence_cases.jsonl")
rng = random.Random(1202)

NAMES = [
    "Oluwaseun Adeyemi", "Nguyen Thi Mai", "Priya Raghunathan", "Zhang Wei", "Hiroshi Tanaka", "Fatima Al-Sayed",
    "Siobhan O'Connor", "Magdalena Kowalski", "Svetlana Ivanova", "Kwame Mensah", "Ines Moreau", "Joao Pereira",
    "Ayesha Siddiqui", "Lars Johansson", "Dmitri Volkov", "Chidi Okafor", "Carlos Ramirez", "Anh Tran",
    "Sanjay Gupta", "Hana Kim", "Ahmed bin Salem", "Maria de la Cruz", "Pieter van der Berg", "Emeka Eze",
    "Lucía Fernández", "Zoltan Nagy", "Aiko Nakamura", "Tomasz Wiśniewski", "Kofi Boateng", "Rania Khalil",
    "Keanu Kahale", "Astrid Lindqvist", "Jean-Luc Dubois", "Mehmet Yılmaz", "Aroha Ngata", "Björn Andersson",
]
US_ADDRESSES = [
    "4759 William Haven Apt. 194, West Corey, CA 90152", "88 Maple Street, Springfield, IL 62704",
    "1200 N. Lake Shore Drive, Chicago, IL 60610", "7 Elm Court, Unit 3B, Austin, TX 78701",
    "310 Harbor View Rd, Seattle, WA 98109", "52 Orchard Lane, Portland, OR 97205",
    "9021 Sunset Boulevard, Los Angeles, CA 90069", "15 Pine Ridge Circle, Boulder, CO 80302",
]
INTL_ADDRESSES = [
    "Hauptstraße 12, 10115 Berlin", "Calle de Alcalá 45, 28014 Madrid", "Via Roma 21, 00184 Roma",
    "Keizersgracht 123, 1015 CJ Amsterdam", "Rua Augusta 150, 1100-053 Lisboa", "221B Baker Street, London NW1 6XE",
]
PHONES = [
    "(415) 555-0132", "020 7946 0958", "+44 20 7946 0958", "030 1234567", "+49 30 1234567", "06 12 34 56 78",
    "+33 6 12 34 56 78", "090-1234-5678", "+81 90 1234 5678", "0412 345 678", "+61 412 345 678",
    "98765 43210", "+91 98765 43210", "011 2345 6789", "212-555-0187", "+1 646 555 0199",
]
EMAILS = ["oluwaseun.a@example.com", "m.delacruz@mail.example.org", "tanaka.h@example.co.jp", "rania_k@example.net"]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "3400 000000 00009", "6011000990139424"]

TEMPLATES = [
    "My name is {PERSON}", "Hi, I'm {PERSON} and I need to reschedule", "This is {PERSON} calling about my refill",
    "{PERSON} called to confirm the appointment", "Please forward the results to {PERSON}",
    "Patient {PERSON} was seen today", "Message from {PERSON}: running late", "Dear {PERSON}, your order shipped",
    "Hello {PERSON}, thanks for reaching out", "{PERSON} asked us to update the file",
    "Can you ask {PERSON} to call back?", "Contact person: {PERSON}", "Appointment booked for {PERSON} on Monday",
    "Referral from Dr. {PERSON} received", "The caregiver, {PERSON}, will pick it up",
    "{PERSON}'s insurance was verified", "Invoice addressed to {PERSON}", "Signed by {PERSON}",
    "{PERSON} and {PERSON} share the account", "Emergency contact is {PERSON}",
    "I live at {STREET_ADDRESS}", "Ship to {STREET_ADDRESS}", "Mailing address: {STREET_ADDRESS}",
    "{PERSON} lives at {STREET_ADDRESS}", "Our office moved to {STREET_ADDRESS}",
    "Please send the kit to {STREET_ADDRESS} by Friday", "Billing address {STREET_ADDRESS}",
    "My address is {INTL_ADDRESS}", "Lieferadresse: {INTL_ADDRESS}", "Please deliver to my home address {INTL_ADDRESS}",
    "The patient's address is {INTL_ADDRESS}", "Ship to {INTL_ADDRESS}",
    "Call me at {PHONE_NUMBER}", "My phone number is {PHONE_NUMBER}", "You can reach me on {PHONE_NUMBER} after 5",
    "Mobile: {PHONE_NUMBER}", "Please text {PHONE_NUMBER} when ready", "{PERSON} can be reached at {PHONE_NUMBER}",
    "Tel. {PHONE_NUMBER}", "call back number {PHONE_NUMBER}", "Her cell is {PHONE_NUMBER}",
    "Contact number {PHONE_NUMBER} (work)", "WhatsApp {PHONE_NUMBER}", "Fax it to {PHONE_NUMBER}, attention billing",
    "Phone {PHONE_NUMBER}, ask for {PERSON}", "My number changed to {PHONE_NUMBER}",
    "Email me at {EMAIL_ADDRESS}", "{PERSON} <{EMAIL_ADDRESS}> wrote:", "Send the receipt to {EMAIL_ADDRESS}",
    "My credit card number is {CREDIT_CARD}", "{PERSON} paid with card {CREDIT_CARD}",
    "I'm {PERSON}, you can call me at {PHONE_NUMBER}", "{PERSON}, {STREET_ADDRESS}, {PHONE_NUMBER}",
    "Name: {PERSON}; Phone: {PHONE_NUMBER}; Email: {EMAIL_ADDRESS}",
    "Thanks {PERSON}! We'll mail it to {STREET_ADDRESS}",
    "Forwarding to {PERSON} ({EMAIL_ADDRESS}) for review", "The courier will call {PHONE_NUMBER} on arrival",
    "Hi {PERSON}, your card ending was charged; reply to {EMAIL_ADDRESS}",
    "{PERSON} from Accra visited our Lisbon office", "Regards, {PERSON}",
]
POOLS = {"PERSON": NAMES, "STREET_ADDRESS": US_ADDRESSES, "INTL_ADDRESS": INTL_ADDRESSES, "PHONE_NUMBER": PHONES,
         "EMAIL_ADDRESS": EMAILS, "CREDIT_CARD": CARDS}
NEGATIVES = [
    "Wireless Mouse added to cart", "Normal Sleep mode entered", "Clock Mode set to 24h", "Build 2024.11.3 deployed",
    "Order 1445432400 2015 shipped", "Payment Service restarted after Health Check", "Open Sans font loaded",
    "Reading from /var/log/app/2024-11-02.log", "Room 4 is free at 10:30", "Version 11.3.244.8 installed",
]

cursors = {k: rng.randrange(len(v)) for k, v in POOLS.items()}


def draw(kind: str) -> str:
    cursors[kind] = (cursors[kind] + 1) % len(POOLS[kind])
    return POOLS[kind][cursors[kind]]


cases = []
for template in TEMPLATES:
    text, expect, pos = "", [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        kind = m.group(1)
        value = draw(kind)
        if kind == "PERSON" and template[:m.start()].endswith("Dr. "):
            value = value.split()[-1]
        text += template[pos:m.start()]
        expect.append({"type": "STREET_ADDRESS" if kind == "INTL_ADDRESS" else kind,
                       "start": len(text), "end": len(text) + len(value)})
        text += value
        pos = m.end()
    text += template[pos:]
    cases.append({"source": "sentences", "text": text, "expect": expect, "tags": [e["type"] for e in expect][:1],
                  "note": template})
for text in NEGATIVES:
    cases.append({"source": "sentences", "text": text, "expect": [], "neg_type": "PII", "tags": ["negative"],
                  "note": text})
OUT.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
print(f"{len(cases)} cases written to {OUT}")
