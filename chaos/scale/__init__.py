"""The scaling proof: capacity per replica count, the USL fit, and the saturated service.

See docs/scaling.md. `gameday scale` is the command; the pure parts are `knee` (the rate
search), `usl` (the Universal Scalability Law fit), `gain` (is one count better than
another?) and `saturation` (which service's own telemetry says it is the bottleneck).
"""
