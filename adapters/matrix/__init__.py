"""The Matrix adapter (matrix-nio): ``translate`` (events in), ``gateway`` (the platform's
primitives), ``execute`` (decisions -> primitives), ``commands`` (``!longform`` and reactions)
and ``app`` (the client, the /sync loop and the wiring)."""
