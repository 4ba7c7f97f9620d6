"""A faithful fake of Kiwoom OpenAPI+: the control (``FakeKiwoomControl``) and the
venue behind it (``FakeKiwoomServer``: accounts, a simulated KRX book, matching).

The control has the real control's method names, signatures (through
``dynamicCall``), events and return codes, and returns values as the real one
does: signed, zero-padded strings. The server keeps the venue's state in a JSON
file when given one, so it survives the bridge process being killed, as
Kiwoom's servers do. Standard library only.
"""

from brokers.kiwoom.fake.control import FakeKiwoomControl
from brokers.kiwoom.fake.server import FakeKiwoomServer, Stock

__all__ = ["FakeKiwoomControl", "FakeKiwoomServer", "Stock"]
