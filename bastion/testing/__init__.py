"""The test kit that ships with Bastion (STYLE.md 7): stub factories, the venue
conformance suite, and helpers for driving the sim venue. Import submodules directly
(``bastion.testing.conformance``, ``bastion.testing.venue_stubs``); this package
imports nothing eagerly, so test-only code never loads in production."""
