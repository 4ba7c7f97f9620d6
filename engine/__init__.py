"""The trading engine: pure Python and asyncio, no Qt anywhere below here.

Strategy authors and tools import from here; the terminal (Qt) and the broker
adapters sit on top of it. See README.md for a tour.
"""

__version__ = "0.1.0"
