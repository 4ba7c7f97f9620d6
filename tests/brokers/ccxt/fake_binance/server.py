"""HTTP and websocket front of the fake venue, answering on Binance's real paths.

One TLS listener on 127.0.0.1 serves every Binance host (the client's resolver
sends them all here); the ``Host`` header says which API is meant: hosts with
``fapi``/``fstream``/``binancefuture`` are USD-M futures, the rest spot.

REST: ``/api/v3/...`` (spot) and ``/fapi/v1|v2|v3/...`` (USD-M, with the algo
service's ``algoOrder`` / ``openAlgoOrders`` / ``algoOpenOrders``), HMAC-SHA256
signatures, API keys, ``timestamp``/``recvWindow`` against the server clock.
Websockets: market streams (``/ws/<n>``, ``/public/ws/<n>``, ``/market/ws/<n>``
with ``SUBSCRIBE``), the spot websocket API (``/ws-api/v3`` with
``userDataStream.subscribe.signature``) and the futures user stream
(``/private/ws?listenKey=`` or ``/ws/<listenKey>``).

Fault knobs (``server.faults`` and methods): HTTP status answers (429 with
``Retry-After``, 418, 5xx), slow answers that time the client out after the
order was made, refused websocket handshakes, dropped sockets, delayed and
duplicated stream messages, lost user events, injected (corrupt) depth
updates, a skewed server clock and authentication failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.brokers.ccxt.fake_binance.certs import BINANCE_HOSTS, TestPKI, test_pki
from tests.brokers.ccxt.fake_binance.markets import LINEAR, SPOT, exchange_info
from tests.brokers.ccxt.fake_binance.network import loopback_session
from tests.brokers.ccxt.fake_binance.venue import FakeVenue, VenueError

log = logging.getLogger(__name__)

SIGNED = "signed"
KEYED = "keyed"
PUBLIC = "public"


def kind_of(host: str) -> str:
    return LINEAR if any(k in host for k in ("fapi", "fstream", "binancefuture")) else SPOT


@dataclass
class HttpFault:
    match: str
    method: str | None
    count: int
    status: int = 0
    body: Any = None
    retry_after: int | None = None
    delay: float = 0.0
    after_processing: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.match in path and (self.method in (None, method))


@dataclass
class Faults:
    http: list[HttpFault] = field(default_factory=list)
    refuse_ws: bool = False
    ws_delay: float = 0.0
    duplicate_user_events: bool = False
    lose_user_events: bool = False
    auth_error: tuple[int, str, int] | None = None  # (code, msg, http status)

    def take(self, method: str, path: str) -> HttpFault | None:
        for fault in self.http:
            if fault.matches(method, path):
                fault.count -= 1
                return fault
        return None


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    kind: str
    role: str  # market | user | wsapi
    streams: set[str] = field(default_factory=set)
    user_subscription: int | None = None
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    writer: asyncio.Task[None] | None = None

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class FakeBinanceServer:
    """``async with FakeBinanceServer() as fake: ...``; ``fake.venue`` is the state."""

    def __init__(self, venue: FakeVenue | None = None, *, pki: TestPKI | None = None) -> None:
        self.venue = venue or FakeVenue()
        self.pki = pki or test_pki()
        self.api_key = "tt-fake-key-" + secrets.token_hex(12)
        self.secret = "tt-fake-secret-" + secrets.token_hex(16)
        self.faults = Faults()
        self.requests: deque[tuple[str, str, str, dict[str, str]]] = deque(maxlen=5000)
        self.conns: set[Conn] = set()
        self.listen_keys: set[str] = set()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._subscription_ids = itertools.count(0)
        self.kline_push_s = 0.25  # Binance pushes the forming candle every 2 s; tests are faster
        self._pusher: asyncio.Task[None] | None = None
        self.venue.public_listeners.append(self._on_public)
        self.venue.user_listeners.append(self._on_user)

    # ---- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> FakeBinanceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.pki.server_context())
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._pusher = asyncio.get_running_loop().create_task(self._push_klines())

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            await asyncio.gather(self._pusher, return_exceptions=True)
            self._pusher = None
        for conn in list(self.conns):
            if conn.writer is not None:
                conn.writer.cancel()
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def session(self) -> Any:
        """A client session whose network is this server (create inside the loop)."""
        return loopback_session(self.port)

    def session_factory(self) -> Any:
        return lambda: loopback_session(self.port)

    # ---- knobs ------------------------------------------------------------------------------
    def fail_next(self, match: str, status: int, count: int = 1, *, method: str | None = None,
                  body: Any = None, retry_after: int | None = None) -> HttpFault:
        """The next ``count`` requests whose path contains ``match`` get ``status``."""
        if body is None:
            body = _default_error_body(status)
        fault = HttpFault(match, method, count, status=status, body=body, retry_after=retry_after)
        self.faults.http.append(fault)
        return fault

    def delay_next(self, match: str, seconds: float, count: int = 1, *,
                   method: str | None = None, after_processing: bool = True) -> HttpFault:
        """Hold the answer: with ``after_processing`` the request takes effect first."""
        fault = HttpFault(match, method, count, delay=seconds, after_processing=after_processing)
        self.faults.http.append(fault)
        return fault

    def drop_ws(self, role: str | None = None, kind: str | None = None) -> int:
        """Cut matching websocket connections abruptly (no close frame), like a network drop."""
        dropped = 0
        for conn in list(self.conns):
            if (role is None or conn.role == role or (role == "user" and conn.role == "wsapi")) \
                    and (kind is None or conn.kind == kind):
                conn.abort()
                self.conns.discard(conn)
                dropped += 1
        return dropped

    def inject_depth(self, kind: str, symbol: str, bids: list[tuple[str, str]] = (),
                     asks: list[tuple[str, str]] = ()) -> None:
        """Send a depth update that is NOT the venue's book (a corrupt message), in sequence."""
        book = self.venue.books[(kind, symbol)]
        book.update_id += 1
        payload: dict[str, Any] = {"e": "depthUpdate", "E": self.venue.market_ms, "s": symbol,
                                   "U": book.update_id, "u": book.update_id,
                                   "b": [list(b) for b in bids], "a": [list(a) for a in asks]}
        if kind == LINEAR:
            payload["pu"] = book.update_id - 1
            payload["T"] = self.venue.market_ms
        self._on_public(kind, f"{symbol.lower()}@depth", payload)

    def connections(self, role: str | None = None) -> list[Conn]:
        return [c for c in self.conns if role is None or c.role == role
                or (role == "user" and c.role == "wsapi")]

    def hosts_seen(self) -> set[str]:
        return {host for host, *_ in self.requests}

    def count(self, method: str, path: str) -> int:
        return sum(1 for _, m, p, _ in self.requests if m == method and p == path)

    # ---- stream fan-out -------------------------------------------------------------------
    async def _push_klines(self) -> None:
        """Binance repeats the forming candle on a timer, trades or not."""
        while True:
            await asyncio.sleep(self.kline_push_s)
            self._push_subscribed_klines()

    def _push_subscribed_klines(self, only: Conn | None = None) -> None:
        for (kind, symbol) in self.venue.markets:
            stream = f"{symbol.lower()}@kline_1m"
            if any(stream in c.streams for c in self.conns if c.kind == kind
                   and (only is None or c is only)):
                self.venue.emit_kline(kind, symbol)

    def _on_public(self, kind: str, stream: str, payload: dict) -> None:
        text = None
        for conn in self.conns:
            if conn.role == "market" and conn.kind == kind and stream in conn.streams:
                text = text or json.dumps(payload, separators=(",", ":"))
                conn.queue.put_nowait(text)

    def _on_user(self, kind: str, payload: dict) -> None:
        if self.faults.lose_user_events:
            return
        for conn in self.conns:
            if conn.kind != kind:
                continue
            if conn.role == "wsapi" and conn.user_subscription is not None:
                text = json.dumps({"subscriptionId": conn.user_subscription, "event": payload},
                                  separators=(",", ":"))
            elif conn.role == "user":
                text = json.dumps(payload, separators=(",", ":"))
            else:
                continue
            conn.queue.put_nowait(text)
            if self.faults.duplicate_user_events:
                conn.queue.put_nowait(text)

    async def _writer(self, conn: Conn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if self.faults.ws_delay:
                    await asyncio.sleep(self.faults.ws_delay)
                if conn.ws.closed:
                    return
                await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    # ---- HTTP -------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.host or "").split(":")[0]
        if host not in BINANCE_HOSTS:
            return web.Response(status=421, text="misdirected")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, host)
        kind = kind_of(host)
        body = await request.text()
        params = dict(request.query)
        if body:
            params.update(dict(parse_qsl(body, keep_blank_values=True)))
        self.requests.append((host, request.method, request.path,
                              {k: v for k, v in params.items() if k != "signature"}))
        fault = self.faults.take(request.method, request.path)
        if fault is not None and not fault.after_processing:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                return _fault_response(fault)
        status, result = self._dispatch(kind, request, params, body)
        if fault is not None and fault.after_processing:
            await asyncio.sleep(fault.delay)
            if fault.status:
                return _fault_response(fault)
        headers = {"x-mbx-used-weight-1m": "12"}
        return web.Response(status=status, text=json.dumps(result), headers=headers,
                            content_type="application/json")

    def _dispatch(self, kind: str, request: web.Request, params: dict[str, str],
                  body: str) -> tuple[int, Any]:
        route = ROUTES.get((kind, request.method, request.path))
        if route is None:
            log.warning("fake binance: no route %s %s %s", kind, request.method, request.path)
            return 404, {"code": -1000, "msg": f"fake venue has no {request.method} "
                                               f"{request.path}"}
        access, handler = route
        try:
            if access in (SIGNED, KEYED):
                self._check_key(request)
            if access == SIGNED:
                self._check_signature(request, params, body)
            return 200, handler(self, kind, params)
        except VenueError as exc:
            return exc.status, exc.body()

    def _check_key(self, request: web.Request) -> None:
        if self.faults.auth_error is not None:
            code, msg, status = self.faults.auth_error
            raise VenueError(code, msg, status)
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_signature(self, request: web.Request, params: dict[str, str], body: str) -> None:
        signed = "".join(_strip_signature(part) for part in (request.query_string, body))
        expected = hmac.new(self.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            raise VenueError(-1022, "Signature for this request is not valid.")
        self._check_timestamp(params)

    def _check_timestamp(self, params: dict[str, Any]) -> None:
        try:
            ts = int(params["timestamp"])
        except (KeyError, ValueError):
            raise VenueError(-1102, "Mandatory parameter 'timestamp' was not sent, was "
                                    "empty/null, or malformed.") from None
        window = int(params.get("recvWindow", 5000))
        now = self.venue.server_ms()
        if ts > now + 1000:
            raise VenueError(-1021, "Timestamp for this request was 1000ms ahead of the "
                                    "server's time.")
        if now - ts > window:
            raise VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # ---- websockets ----------------------------------------------------------------------
    async def _websocket(self, request: web.Request, host: str) -> web.StreamResponse:
        if self.faults.refuse_ws:
            return web.Response(status=503, text="Service Unavailable")
        kind = kind_of(host)
        path = request.path
        self.requests.append((host, "WS", path, {}))
        if path.startswith("/ws-api/") or path.startswith("/ws-fapi/"):
            role = "wsapi"
        elif path.startswith("/private/ws") or (path.startswith("/ws/")
                                                  and path[4:] in self.listen_keys):
            key = request.query.get("listenKey") or path[4:]
            if key not in self.listen_keys:
                return web.Response(status=400, text="invalid listenKey")
            role = "user"
        else:
            role = "market"
        # Like Binance, accept permessage-deflate when the client offers it.
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Conn(ws, request, kind, role)
        conn.writer = asyncio.get_running_loop().create_task(self._writer(conn))
        self.conns.add(conn)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    request_msg = json.loads(msg.data)
                except ValueError:
                    continue
                reply = self._ws_request(conn, request_msg)
                if reply is not None:
                    conn.queue.put_nowait(json.dumps(reply, separators=(",", ":")))
        finally:
            self.conns.discard(conn)
            if conn.writer is not None:
                conn.writer.cancel()
        return ws

    def _ws_request(self, conn: Conn, msg: dict[str, Any]) -> dict[str, Any] | None:
        method = msg.get("method")
        ident = msg.get("id")
        if conn.role == "market":
            names = [_stream_name(p) for p in msg.get("params", [])]
            if method == "SUBSCRIBE":
                conn.streams.update(names)
                if any("@kline_" in n for n in names):
                    asyncio.get_running_loop().call_soon(self._push_subscribed_klines, conn)
                return {"result": None, "id": ident}
            if method == "UNSUBSCRIBE":
                conn.streams.difference_update(names)
                return {"result": None, "id": ident}
            if method == "LIST_SUBSCRIPTIONS":
                return {"result": sorted(conn.streams), "id": ident}
            return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                    "id": ident}
        if conn.role == "wsapi":
            if method == "userDataStream.subscribe.signature":
                return self._ws_subscribe(conn, ident, msg.get("params", {}))
            if method == "userDataStream.unsubscribe":
                conn.user_subscription = None
                return {"id": ident, "status": 200, "result": {}}
            return {"id": ident, "status": 400,
                    "error": {"code": -1100, "msg": f"unknown method {method}"}}
        return None

    def _ws_subscribe(self, conn: Conn, ident: Any, params: dict[str, Any]) -> dict[str, Any]:
        try:
            if self.faults.auth_error is not None:
                code, text, status = self.faults.auth_error
                raise VenueError(code, text, status)
            if params.get("apiKey") != self.api_key:
                raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
            expected = hmac.new(self.secret.encode(), payload.encode(),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, str(params.get("signature", ""))):
                raise VenueError(-1022, "Signature for this request is not valid.")
            self._check_timestamp(params)
        except VenueError as exc:
            return {"id": ident, "status": exc.status, "error": exc.body()}
        conn.user_subscription = next(self._subscription_ids)
        return {"id": ident, "status": 200, "result": {"subscriptionId": conn.user_subscription},
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                "intervalNum": 1, "limit": 6000, "count": 2}]}


# ---- REST handlers -------------------------------------------------------------------------

def _int(params: dict[str, str], key: str) -> int | None:
    value = params.get(key)
    return int(value) if value not in (None, "") else None


def _server_time(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return {"serverTime": s.venue.server_ms()}


def _exchange_info(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    markets = [m for (k, _), m in s.venue.markets.items() if k == kind]
    return exchange_info(kind, markets, s.venue.server_ms())


def _depth(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    m = s.venue.market(kind, p.get("symbol", ""))
    bids, asks = s.venue.depth(kind, m.id, _int(p, "limit") or 100)
    out: dict[str, Any] = {"lastUpdateId": s.venue.books[(kind, m.id)].update_id}
    if kind == LINEAR:
        out.update({"E": s.venue.market_ms, "T": s.venue.market_ms})
    out["bids"] = [[m.price(px), m.qty(q)] for px, q in bids]
    out["asks"] = [[m.price(px), m.qty(q)] for px, q in asks]
    return out


def _klines(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.klines(kind, p.get("symbol", ""), p.get("interval", ""),
                          _int(p, "startTime"), _int(p, "endTime"),
                          min(_int(p, "limit") or 500, 1500 if kind == LINEAR else 1000))


def _agg_trades(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    limit = _int(p, "limit")
    return s.venue.agg_trades(kind, p.get("symbol", ""), _int(p, "fromId"), _int(p, "startTime"),
                              _int(p, "endTime"), 500 if limit is None else limit)


def _account(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.spot_account() if kind == SPOT else s.venue.futures_account()


def _new_order(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    before = len(s.venue.trades[kind])
    order = s.venue.place(kind, p)
    if kind == SPOT:
        resp_type = p.get("newOrderRespType", "FULL")
        fills = [t for t in s.venue.trades[kind][before:] if t.order_id == order.order_id]
        if resp_type == "ACK":
            return {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                    "clientOrderId": order.cid, "transactTime": order.time}
        return s.venue.order_json(order, full=True, fills=fills if resp_type == "FULL" else [])
    return s.venue.order_json(order)


def _get_order(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    order = s.venue.order(kind, p.get("symbol", ""), _int(p, "orderId"),
                          p.get("origClientOrderId"))
    return s.venue.order_json(order)


def _cancel_order(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    cancel_cid = p.get("newClientOrderId", "")
    order = s.venue.cancel(kind, p.get("symbol", ""), _int(p, "orderId"),
                           p.get("origClientOrderId"), cancel_cid)
    return s.venue.cancel_json(order, cancel_cid)


def _open_orders(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    symbol = p.get("symbol")
    if symbol:
        s.venue.market(kind, symbol)
    return [s.venue.order_json(o) for o in s.venue.open_orders(kind, symbol)]


def _cancel_all(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    orders = s.venue.cancel_all(kind, p.get("symbol", ""))
    if kind == LINEAR:
        return {"code": 200, "msg": "The operation of cancel all open order is done."}
    return [s.venue.cancel_json(o, "") for o in orders]


def _my_trades(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    symbol = p.get("symbol", "")
    s.venue.market(kind, symbol)
    order_id, from_id = _int(p, "orderId"), _int(p, "fromId")
    start, end = _int(p, "startTime"), _int(p, "endTime")
    rows = [t for t in s.venue.trades[kind] if t.symbol == symbol
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or t.id >= from_id)
            and (start is None or t.time >= start) and (end is None or t.time <= end)]
    limit = min(_int(p, "limit") or 500, 1000)
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return [s.venue.trade_json(t) for t in rows]


def _position_risk(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.position_risk(p.get("symbol"))


def _futures_balance(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    acct = s.venue.futures_account()
    a = acct["assets"][0]  # type: ignore[index]
    return [{"accountAlias": "SgsR", "asset": "USDT", "balance": a["walletBalance"],
             "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
             "availableBalance": a["availableBalance"], "maxWithdrawAmount":
             a["maxWithdrawAmount"], "marginAvailable": True, "updateTime": a["updateTime"]}]


def _leverage(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    symbol = p.get("symbol", "")
    s.venue.set_leverage(symbol, int(p.get("leverage", "0")))
    return {"leverage": s.venue.positions[symbol].leverage, "maxNotionalValue": "1000000",
            "symbol": symbol}


def _margin_type(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    s.venue.set_margin_type(p.get("symbol", ""), p.get("marginType", ""))
    return {"code": 200, "msg": "success"}


def _premium_index(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    symbol = p.get("symbol")
    if symbol:
        s.venue.market(LINEAR, symbol)
        return s.venue.premium_index(symbol)
    return [s.venue.premium_index(sym) for (k, sym) in s.venue.markets if k == LINEAR]


def _income(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    start = _int(p, "startTime")
    return [i for i in s.venue.income
            if (p.get("symbol") in (None, "", i["symbol"]))
            and (p.get("incomeType") in (None, "", i["incomeType"]))
            and (start is None or int(i["time"]) >= start)]  # type: ignore[call-overload]


def _leverage_bracket(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    brackets = [(125, 50_000, 0, "0.004", "0.0"), (100, 600_000, 50_000, "0.005", "50.0"),
                (50, 3_000_000, 600_000, "0.01", "3050.0"), (20, 12_000_000, 3_000_000,
                                                              "0.025", "48050.0")]
    out = []
    for (k, sym) in s.venue.markets:
        if k != LINEAR or p.get("symbol") not in (None, "", sym):
            continue
        out.append({"symbol": sym, "notionalCoef": 1.0, "brackets": [
            {"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
             "maintMarginRatio": float(mmr), "cum": float(cum)}
            for i, (lev, cap, floor, mmr, cum) in enumerate(brackets)]})
    return out


def _new_algo(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.algo.json(s.venue.algo.place(p))


def _get_algo(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.algo.json(s.venue.algo.find(p), query=True)


def _cancel_algo(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return s.venue.algo.cancel_json(s.venue.algo.cancel(p))


def _open_algos(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    symbol = p.get("symbol")
    if symbol:
        s.venue.market(kind, symbol)
    return [s.venue.algo.json(a) for a in s.venue.algo.open_orders(symbol)]


def _cancel_all_algos(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    s.venue.algo.cancel_all(p.get("symbol", ""))
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def _listen_key(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    key = secrets.token_urlsafe(45)[:60]
    s.listen_keys.add(key)
    return {"listenKey": key}


def _keep_alive(s: FakeBinanceServer, kind: str, p: dict[str, str]) -> Any:
    return {}


ROUTES: dict[tuple[str, str, str], tuple[str, Any]] = {
    (SPOT, "GET", "/api/v3/time"): (PUBLIC, _server_time),
    (SPOT, "GET", "/api/v3/exchangeInfo"): (PUBLIC, _exchange_info),
    (SPOT, "GET", "/api/v3/depth"): (PUBLIC, _depth),
    (SPOT, "GET", "/api/v3/klines"): (PUBLIC, _klines),
    (SPOT, "GET", "/api/v3/aggTrades"): (PUBLIC, _agg_trades),
    (SPOT, "GET", "/api/v3/account"): (SIGNED, _account),
    (SPOT, "POST", "/api/v3/order"): (SIGNED, _new_order),
    (SPOT, "GET", "/api/v3/order"): (SIGNED, _get_order),
    (SPOT, "DELETE", "/api/v3/order"): (SIGNED, _cancel_order),
    (SPOT, "GET", "/api/v3/openOrders"): (SIGNED, _open_orders),
    (SPOT, "DELETE", "/api/v3/openOrders"): (SIGNED, _cancel_all),
    (SPOT, "GET", "/api/v3/myTrades"): (SIGNED, _my_trades),
    (SPOT, "POST", "/api/v3/userDataStream"): (KEYED, _listen_key),
    (SPOT, "PUT", "/api/v3/userDataStream"): (KEYED, _keep_alive),
    (LINEAR, "GET", "/fapi/v1/time"): (PUBLIC, _server_time),
    (LINEAR, "GET", "/fapi/v1/exchangeInfo"): (PUBLIC, _exchange_info),
    (LINEAR, "GET", "/fapi/v1/depth"): (PUBLIC, _depth),
    (LINEAR, "GET", "/fapi/v1/klines"): (PUBLIC, _klines),
    (LINEAR, "GET", "/fapi/v1/aggTrades"): (PUBLIC, _agg_trades),
    (LINEAR, "GET", "/fapi/v1/premiumIndex"): (PUBLIC, _premium_index),
    (LINEAR, "GET", "/fapi/v1/order"): (SIGNED, _get_order),
    (LINEAR, "POST", "/fapi/v1/order"): (SIGNED, _new_order),
    (LINEAR, "DELETE", "/fapi/v1/order"): (SIGNED, _cancel_order),
    (LINEAR, "GET", "/fapi/v1/openOrders"): (SIGNED, _open_orders),
    (LINEAR, "DELETE", "/fapi/v1/allOpenOrders"): (SIGNED, _cancel_all),
    (LINEAR, "GET", "/fapi/v1/userTrades"): (SIGNED, _my_trades),
    (LINEAR, "POST", "/fapi/v1/algoOrder"): (SIGNED, _new_algo),
    (LINEAR, "GET", "/fapi/v1/algoOrder"): (SIGNED, _get_algo),
    (LINEAR, "DELETE", "/fapi/v1/algoOrder"): (SIGNED, _cancel_algo),
    (LINEAR, "GET", "/fapi/v1/openAlgoOrders"): (SIGNED, _open_algos),
    (LINEAR, "DELETE", "/fapi/v1/algoOpenOrders"): (SIGNED, _cancel_all_algos),
    (LINEAR, "GET", "/fapi/v2/account"): (SIGNED, _account),
    (LINEAR, "GET", "/fapi/v3/account"): (SIGNED, _account),
    (LINEAR, "GET", "/fapi/v2/balance"): (SIGNED, _futures_balance),
    (LINEAR, "GET", "/fapi/v3/balance"): (SIGNED, _futures_balance),
    (LINEAR, "GET", "/fapi/v2/positionRisk"): (SIGNED, _position_risk),
    (LINEAR, "GET", "/fapi/v3/positionRisk"): (SIGNED, _position_risk),
    (LINEAR, "POST", "/fapi/v1/leverage"): (SIGNED, _leverage),
    (LINEAR, "POST", "/fapi/v1/marginType"): (SIGNED, _margin_type),
    (LINEAR, "GET", "/fapi/v1/income"): (SIGNED, _income),
    (LINEAR, "GET", "/fapi/v1/leverageBracket"): (SIGNED, _leverage_bracket),
    (LINEAR, "POST", "/fapi/v1/listenKey"): (KEYED, _listen_key),
    (LINEAR, "PUT", "/fapi/v1/listenKey"): (KEYED, _keep_alive),
    (LINEAR, "DELETE", "/fapi/v1/listenKey"): (KEYED, _keep_alive),
}


def _strip_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def _stream_name(param: str) -> str:
    """``btcusdt@depth@100ms`` -> ``btcusdt@depth`` (the update speed is not a stream)."""
    parts = param.split("@")
    if len(parts) == 3 and parts[1] == "depth":
        return "@".join(parts[:2])
    return param


def _default_error_body(status: int) -> Any:
    if status in (418, 429):
        return {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 "
                                      "requests per minute. Please use the websocket for live "
                                      "updates to avoid polling the API."}
    if status >= 500:
        return "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    return {"code": -1000, "msg": "An unknown error occurred while processing the request."}


def _fault_response(fault: HttpFault) -> web.Response:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if isinstance(fault.body, str):
        return web.Response(status=fault.status, text=fault.body, headers=headers,
                            content_type="text/html")
    return web.Response(status=fault.status, text=json.dumps(fault.body), headers=headers,
                        content_type="application/json")
