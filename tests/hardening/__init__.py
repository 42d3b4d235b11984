"""Hardening: a catalogue of hostile inputs and faults, each a test (see docs/SECURITY-DRAFT.md)."""
