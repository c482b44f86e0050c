"""The Interactive Brokers adapter (``kind: ib``), on ib_async.

``execution.IbVenue`` implements the ``VenuePort`` against TWS or IB Gateway;
``profile.BUILDER`` builds it from a profile. Nothing is imported here, so the error
table (``errors``) and the client id rule (``config``) load without ib_async. See
``docs/ib.md`` for set-up, client ids, the nightly reset and the limits, and
``docs/ib-codes.md`` for what Bastion does on each IB message code.
"""
