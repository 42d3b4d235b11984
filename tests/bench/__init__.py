"""Test-support code: local stand-ins for the services Paperboy talks to."""
