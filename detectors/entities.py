"""Entity vocabulary shared by detectors: Presidio names mapped onto phiscan's, families, severity."""

from __future__ import annotations

# Presidio (and other) entity names -> phiscan canonical names. Unlisted names are dropped.
PRESIDIO_TO_CANONICAL: dict[str, str] = {
    "PERSON": "PERSON",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "US_NPI": "US_NPI",
    "US_MBI": "HEALTH_PLAN_ID",
    "US_HEALTH_INSURANCE_MEMBER_ID": "HEALTH_PLAN_ID",
    "MEDICAL_RECORD_NUMBER": "MEDICAL_RECORD_NUMBER",
    "HEALTH_PLAN_ID": "HEALTH_PLAN_ID",
    "US_DEA": "US_DEA",
    "DATE_OF_BIRTH": "DATE_OF_BIRTH",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "MEDICAL_CONDITION": "MEDICAL_CONDITION",
    "MEDICATION": "MEDICATION",
    "ICD10_CODE": "ICD10_CODE",
    "API_KEY": "API_KEY",
    "AUTH_TOKEN": "AUTH_TOKEN",
    "CREDENTIAL": "CREDENTIAL",
    "PRIVATE_KEY": "PRIVATE_KEY",
}

# Families: the groups the quality targets are stated for.
FAMILY: dict[str, str] = {
    "PERSON": "names",
    "EMAIL_ADDRESS": "contact",
    "PHONE_NUMBER": "contact",
    "IP_ADDRESS": "contact",
    "US_SSN": "ssn",
    "DATE_OF_BIRTH": "dob",
    "MEDICAL_RECORD_NUMBER": "medical_ids",
    "HEALTH_PLAN_ID": "medical_ids",
    "US_NPI": "medical_ids",
    "US_DEA": "medical_ids",
    "STREET_ADDRESS": "addresses",
    "CREDIT_CARD": "cards",
    "MEDICAL_CONDITION": "health_info",
    "MEDICATION": "health_info",
    "ICD10_CODE": "health_info",
    "API_KEY": "secrets",
    "AUTH_TOKEN": "secrets",
    "CREDENTIAL": "secrets",
    "PRIVATE_KEY": "secrets",
}

SECRETS = frozenset({"API_KEY", "AUTH_TOKEN", "CREDENTIAL", "PRIVATE_KEY"})
HEALTH_INFO = frozenset({"MEDICAL_CONDITION", "MEDICATION", "ICD10_CODE"})
IDENTIFIERS = frozenset(
    {
        "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "DATE_OF_BIRTH", "STREET_ADDRESS",
        "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID", "CREDIT_CARD", "IP_ADDRESS",
    }
)

# Finding severity by entity type (an event-level PHI verdict can raise it to critical).
SEVERITY: dict[str, str] = {
    "API_KEY": "critical",
    "AUTH_TOKEN": "critical",
    "CREDENTIAL": "critical",
    "PRIVATE_KEY": "critical",
    "US_SSN": "high",
    "MEDICAL_RECORD_NUMBER": "high",
    "HEALTH_PLAN_ID": "high",
    "CREDIT_CARD": "high",
    "DATE_OF_BIRTH": "high",
    "MEDICAL_CONDITION": "high",
    "MEDICATION": "high",
    "ICD10_CODE": "high",
    "PERSON": "medium",
    "EMAIL_ADDRESS": "medium",
    "PHONE_NUMBER": "medium",
    "STREET_ADDRESS": "medium",
    "US_NPI": "medium",
    "US_DEA": "medium",
    "IP_ADDRESS": "low",
}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
