"""Consent and privacy: the consent ledger (PIPL and GDPR purposes), its current state and the
checks every service makes before it uses personal data."""
