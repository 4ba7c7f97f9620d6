"""The terminal <-> bridge message protocol, version 2.

The bridge (32-bit Python hosting the Kiwoom control) and the terminal talk over
one local stream socket (loopback TCP bound to 127.0.0.1) with newline-delimited
JSON: each message is one UTF-8 JSON object on one line. JSON escapes newlines
inside strings, so a line is always a whole message. Standard library only: the
bridge imports this module.

Session
-------
1. The terminal starts the bridge with a fresh random token in the environment
   variable ``KIWOOM_BRIDGE_TOKEN`` (never on the command line, which other
   users can read). The bridge binds ``127.0.0.1:0`` and prints one line on
   stdout: ``{"t": "ready", "v": 2, "port": <port>, "pid": <pid>}``.
2. The terminal connects and sends ``{"t": "hello", "v": 2, "token": "..."}``.
   The bridge answers ``{"t": "welcome", "v": 2, "control": "ocx"|"fake",
   "logged_in": bool, "pid": int, "seq": int}`` or ``{"t": "bye", "reason":
   "bad_token"|"version"|"busy", "msg": "..."}`` and closes. A client that has
   not said a valid hello within 5 s is disconnected. One client at a time.
3. Requests and events flow until either side closes. The bridge exits when its
   stdin closes (the terminal died) or on the ``shutdown`` request.

Requests (terminal -> bridge)
-----------------------------
``{"t": "req", "id": <int, unique per connection>, "op": <op>, "a": {args}}``

=================  ===========================================================
op                 args -> result
=================  ===========================================================
ping               {} -> {"now": float}
login              {} -> {"err": 0, "accounts": [...], "user_id": str,
                   "user_name": str, "server": "mock"|"real"} (CommConnect, then
                   OnEventConnect; GetLoginInfo; KOA_Functions GetServerGubun)
state              {} -> {"logged_in": bool, "screens": int, "real_codes": int}
master             {"markets": ["0", "10", "8"]} -> {"codes": [{"code", "name",
                   "market", "last_price"}]} (GetCodeListByMarket,
                   GetMasterCodeName, GetMasterLastPrice)
tr                 {"trcode", "inputs": {name: value}, "single": [items],
                   "multi": [items], "prev_next": 0|2, "cont": {...}|null}
                   -> {"prev_next": "0"|"2"|"", "single": {item: str},
                   "rows": [[str, ...]], "cont": {...}|null, "msg": str}
order              {"account", "order_type": 1..6, "code", "qty", "price",
                   "hoga": "00"|"03"|..., "orig_no": str}
                   -> {"order_no": str, "msg": str, "timed_out": bool}
real_reg           {"codes": [...], "fids": [int, ...]} -> {"screens": [...]}
real_remove        {"codes": [...]} (empty list: everything) -> {}
sim                {"action": str, ...} fake control only (drives its market)
shutdown           {} -> {} then the bridge exits
=================  ===========================================================

Replies: ``{"t": "res", "id": n, "ok": true, "r": {result}}`` or ``{"t": "res",
"id": n, "ok": false, "e": {"code": int, "kind": str, "msg": str}}``. ``kind``
is ``rate_limited`` / ``login`` / ``input`` / ``failed`` (see errors.py) or
``timeout`` / ``not_logged_in`` / ``bad_request`` / ``unsupported``. A request
held back by a rate limit first gets ``{"t": "queued", "id": n, "wait": seconds,
"ahead": count}``; the client extends its timeout by that wait.

Events (bridge -> terminal)
---------------------------
``{"t": "evt", "ev": <name>, ...}``:

* ``real``: ``{"c": code, "rt": real type, "f": [raw str, ...], "bt": ns}``:
  OnReceiveRealData with the values of GetCommRealData for the FIDs of that
  real type in ``REAL_FIDS[rt]``, in that order (a list, not an object: quotes
  are most of the traffic, and a list of values decodes in half the time of
  the same values keyed by FID). Real types not in ``REAL_FIDS`` carry
  ``"f": {"raw": data}``, the control's own data string. ``bt`` is the
  bridge's wall clock (ns, ``time.time_ns``) when the control raised the event.
* ``chejan``: ``{"g": "0"|"1"|"4", "f": {fid: raw str}, "seq": n}``:
  OnReceiveChejanData with GetChejanData for every FID in its list. ``seq``
  counts chejan events for the bridge's life; events raised while no client is
  connected are kept (up to a bound) and sent after the next hello.
* ``msg``: ``{"scr", "rq", "tr", "msg"}``: OnReceiveMsg.
* ``connect``: ``{"err": int}``: OnEventConnect outside a login request (the
  control lost its server connection).

Version 1 sent real-time fields as ``{fid: raw str}``.

Values stay the control's raw strings ("+0071200", "-00000150", "A005930"):
parsing them is the terminal's job (parsing.py), so the bridge stays dumb.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 2
TOKEN_ENV = "KIWOOM_BRIDGE_TOKEN"
HELLO_TIMEOUT_S = 5.0
MAX_LINE_BYTES = 32 * 1024 * 1024  # a TR page of 900 rows is far below this

OPS = frozenset({"ping", "login", "state", "master", "tr", "order", "real_reg", "real_remove",
                 "sim", "shutdown"})

Message = dict[str, Any]

# The FIDs the bridge reads for each real type it knows, in the order ``real``
# events carry their values; other types travel raw.
_BOOK_FIDS = (21, *range(41, 51), *range(51, 61), *range(61, 71), *range(71, 81), 121, 125)
REAL_FIDS: dict[str, tuple[int, ...]] = {
    "주식체결": (20, 10, 11, 12, 27, 28, 15, 13, 14, 16, 17, 18, 25, 228, 290),
    "주식호가잔량": _BOOK_FIDS,
    "주식우선호가": (27, 28),
    "주식시세": (10, 11, 12, 27, 28, 13, 14, 16, 17, 18, 25),
    "장시작시간": (215, 20, 214),
}
REAL_KEYS: dict[str, tuple[str, ...]] = {
    rt: tuple(str(fid) for fid in fids) for rt, fids in REAL_FIDS.items()}

# One encoder and decoder for the process: json.dumps with options builds an encoder
# per call, and json.loads on bytes sniffs their encoding first.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()


class ProtocolError(Exception):
    """A peer sent something that is not a protocol message."""


def encode(msg: Message) -> bytes:
    """One message as one line of UTF-8 JSON."""
    return (_ENCODER.encode(msg) + "\n").encode("utf-8")


def decode(line: bytes | str) -> Message:
    """One line -> one message (raises ``ProtocolError``)."""
    try:
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        msg = _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if type(msg) is not dict or type(msg.get("t")) is not str:
        raise ProtocolError("a message must be a JSON object with a string field 't'")
    return msg


class LineBuffer:
    """Newline framing over a byte stream: ``feed(chunk)`` returns the whole lines it
    completed (without their newlines). Reading large chunks and splitting them here
    costs far less per message than one ``readline`` await per line, and a line split
    across many chunks is joined once (no quadratic copying)."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._pending = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        end = chunk.rfind(b"\n")
        if end < 0:
            self._parts.append(chunk)
            self._pending += len(chunk)
            if self._pending > self.limit:
                raise ProtocolError(f"a line longer than {self.limit} bytes")
            return []
        if self._parts:
            self._parts.append(chunk[:end])
            data = b"".join(self._parts)
            self._parts = []
        else:
            data = chunk[:end]
        rest = chunk[end + 1:]
        if rest:
            self._parts.append(rest)
        self._pending = len(rest)
        return data.split(b"\n")


def request(req_id: int, op: str, args: Message | None = None) -> Message:
    return {"t": "req", "id": req_id, "op": op, "a": args or {}}


def result(req_id: int, value: Message | None = None) -> Message:
    return {"t": "res", "id": req_id, "ok": True, "r": value or {}}


def failure(req_id: int, code: int, kind: str, msg: str) -> Message:
    return {"t": "res", "id": req_id, "ok": False, "e": {"code": code, "kind": kind, "msg": msg}}


def queued(req_id: int, wait: float, ahead: int) -> Message:
    return {"t": "queued", "id": req_id, "wait": round(wait, 3), "ahead": ahead}


def event(name: str, **fields: Any) -> Message:
    return {"t": "evt", "ev": name, **fields}


def ready_line(port: int, pid: int) -> str:
    return json.dumps({"t": "ready", "v": VERSION, "port": port, "pid": pid})
