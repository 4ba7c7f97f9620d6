"""The Kiwoom bridge: a small program that hosts the OpenAPI+ control and serves it.

Run by 32-bit Python on Windows (``python -m brokers.kiwoom.bridge``) with PyQt5's
QAxWidget hosting ``KHOPENAPI.KHOpenAPICtrl.1`` on a Qt event loop; elsewhere (and
in tests) with ``--fake``, the faithful fake control on a plain asyncio loop. It
speaks the protocol of ``brokers.kiwoom.protocol`` on a loopback socket.

Only the standard library is imported here and in every module of this package
except ``host_qt`` (PyQt5, Windows only), so the 32-bit interpreter needs nothing
but PyQt5 (and optionally pykiwoom).
"""
