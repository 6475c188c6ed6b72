"""Invented vocabulary for the sample corpus: names, places, routes, benign log templates.

Card numbers are the public test numbers of card networks; NPIs and DEA numbers
are computed to pass their checksums but belong to nobody.
"""

from __future__ import annotations


def _luhn_check_digit(payload: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def _npi(stem: str) -> str:
    return stem + str(_luhn_check_digit("80840" + stem))


def _dea(letters: str, six: str) -> str:
    d = [int(c) for c in six]
    check = ((d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])) % 10
    return f"{letters}{six}{check}"


FIRST_NAMES = """Maria Jane Robert Aisha Wei Carlos Priya Olga Samuel Fatima Diego Hannah Kwame Mei Jamal Sofia
Ethan Leila Tomasz Grace Marcus Elena Nguyen Rosa Daniel Yuki Omar Claire Andre Naomi Victor Imani Lucas Ingrid
Rahul Beatriz Connor Amara Felix Chloe Mateo Zainab Henry Lucia Isaac Ana""".split()
LAST_NAMES = """Gonzalez Doe Chen Okafor Patel Kowalski Nguyen Johnson Haddad Silva Andersson Williams Tanaka
Mbeki Rossi Brennan Alvarez Kim Novak Fischer Abara Castillo Lindqvist Morrison Dubois Yilmaz Schmidt Ortega
Hughes Mensah Petrov Romero Sullivan Ibrahim Costa Weber Larsen Reyes Whitaker Delgado""".split()
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me", "hotmail.com"]
STREETS = ["Maple", "Oak", "Cedar", "Elm", "Washington", "Lincoln", "Sunset", "Harbor", "Pine", "Lakeview", "Highland"]
SUFFIXES = ["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Blvd", "Way", "Terrace", "Place"]
CITIES = ["Portland", "Austin", "Denver", "Columbus", "Raleigh", "Tucson", "Boise", "Madison", "Oakland", "Tampa"]
STATES = ["OR", "TX", "CO", "OH", "NC", "AZ", "ID", "WI", "CA", "FL"]
CONDITIONS = ["type 2 diabetes", "major depressive disorder", "HIV", "generalized anxiety disorder", "hypertension",
              "asthma", "opioid use disorder", "bipolar disorder", "chlamydia", "hepatitis C", "breast cancer",
              "PTSD", "obesity", "erectile dysfunction", "ADHD", "migraine", "hypothyroidism", "gonorrhea",
              "alcohol use disorder", "schizophrenia", "COPD", "psoriasis", "insomnia", "endometriosis"]
MEDICATIONS = ["metformin", "sertraline", "Truvada", "buprenorphine", "Adderall", "lisinopril", "atorvastatin",
               "Ozempic", "semaglutide", "escitalopram", "naltrexone", "Suboxone", "levothyroxine", "bupropion",
               "sildenafil", "Wegovy", "fluoxetine", "lithium", "quetiapine", "albuterol", "doxycycline"]
ICD10 = ["E11.9", "F32.9", "B20", "F41.1", "I10", "J45.909", "F11.20", "F31.9", "A56.09", "B18.2", "C50.911",
         "F43.10", "E66.9", "N52.9", "F90.0", "G43.909", "E03.9", "F10.20", "F20.9", "J44.9"]
TEST_CARDS = ["4242 4242 4242 4242", "4111111111111111", "5555-5555-5555-4444", "378282246310005",
              "6011 1111 1111 1117", "4000056655665556"]
NPIS = [_npi(s) for s in ("123456789", "198765432", "145230987", "167843210", "112233445", "187654321")]
DEAS = [_dea(l, s) for l, s in (("AB", "123456"), ("BS", "482913"), ("FM", "730215"), ("MJ", "551840"))]
ROUTES = ["/", "/dashboard", "/appointments", "/api/appointments", "/api/health", "/visits/upcoming",
          "/api/auth/session", "/_next/static/chunks/main.js", "/settings/notifications", "/pricing",
          "/api/providers/availability", "/messages", "/api/webhooks/stripe", "/favicon.ico"]
PHI_ROUTES = ["/api/intake", "/api/appointments", "/api/patients", "/api/prescriptions", "/api/labs/results",
              "/api/billing/charge", "/api/messages/send", "/api/eligibility"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "vercel-healthcheck/1.0", "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
]
BENIGN_REQUEST = [
    "GET {route} 200 in {ms}ms", "POST {route} 201 in {ms}ms", "Cache MISS for {route}, revalidating",
    "[middleware] session ok, redirecting to {route}", "Fetched {n} appointments in {ms}ms",
    "Warning: slow query took {ms}ms (appointments.findMany)", "etag {h} matched, 304",
    "Revalidated {route} at build hash {h}", "Rate limit bucket at {n}/600 for route {route}",
    "Provider availability cached for {n} slots", "Webhook stripe.invoice.paid handled in {ms}ms",
    "React Server Components payload for {route} streamed in {ms}ms",
]
BENIGN_BUILD = [
    "Compiled successfully in {s}s", "Collecting page data ...", "Generating static pages ({n}/{n})",
    "Route (app) /appointments {kb} kB", "Build cache restored from {h}", "Running \"next build\" with Next.js {v}",
    "Installing dependencies with pnpm 9.12.0", "Deployment completed in {s}s, output {kb} MB",
    "Edge Middleware bundle {kb} kB (limit 1 MB)", "Creating an optimized production build ...",
    "Traced Next.js server files in {s}s", "Linting and checking validity of types ...",
]
BENIGN_ERRORS = [
    "Cannot read properties of undefined (reading 'map')", "Failed to fetch", "Network request failed",
    "ResizeObserver loop completed with undelivered notifications.", "Hydration failed because the initial UI "
    "does not match what was rendered on the server.", "Load failed", "NEXT_REDIRECT",
    "Minified React error #418; visit https://react.dev/errors/418 for the full message",
]
