"""The paper venue's server on a thread of the test process (a port the OS picks).

``PaperServerThread(config)`` starts ``PaperServer.run`` on a daemon thread; ``stop()``
stops the loop, joins it and closes the server (sockets and the state file). Tests that
need a separate process (SIGKILL, file limits) use ``paper_process`` instead.
"""

from __future__ import annotations

import threading

from bastion.venues.paper.server import PaperServer, ServerConfig

__all__ = ["PaperServerThread"]


class PaperServerThread:
    def __init__(self, config: ServerConfig, *, max_seconds: float = 300.0) -> None:
        self.server = PaperServer(config)
        self.port = self.server.port
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"max_seconds": max_seconds}, daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> str:
        """Stop and close; returns the digest of the venue's state when it stopped."""
        self.server.stop_flag.set()
        self._thread.join(timeout=30)
        digest = self.server.venue.state_digest()
        self.server.close()
        return digest
