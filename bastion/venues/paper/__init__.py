"""The paper venue: the simulated venue in its own process, speaking FIX 4.4.

``state.py`` keeps its durable state (an input log it replays on start, the FIX
sessions' numbers and stored messages, an audit of fills and received orders);
``venue.py`` turns FIX application messages into sim-venue calls and sim-venue events
into FIX reports; ``server.py`` owns the sockets; ``feed.py`` makes prices.
"""
