"""A Personalize-compatible local endpoint that really trains: control plane, runtime, metrics, faults.

Embed it with `objective_sweep.personalize.server.LocalPersonalize`; numpy, scipy and implicit are
imported only inside this package."""
