"""The simulated provider (`pavedroad sim`): OpenAI and Anthropic wire formats with faults.

A real HTTP server for integration tests and outage rehearsals. Everything it says is a
deterministic function of the request and the configured faults.
"""

from pavedroad.sim.app import create_app, serve
from pavedroad.sim.faults import FAULT_HEADER, Fault, FaultError
from pavedroad.sim.sse import SimulatedReset
from pavedroad.sim.state import SimState

__all__ = [
    "FAULT_HEADER",
    "Fault",
    "FaultError",
    "SimState",
    "SimulatedReset",
    "create_app",
    "serve",
]
