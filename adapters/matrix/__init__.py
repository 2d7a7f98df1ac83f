"""The Matrix adapter (matrix-nio): ``translate`` (events in), ``gateway`` (the platform's
primitives, which the runtime's one pipeline drives), ``commands`` (``!longform`` and reactions)
and ``app`` (the client, the /sync loop and the wiring)."""
