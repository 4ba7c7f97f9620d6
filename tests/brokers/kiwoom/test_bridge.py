"""The bridge's parts: rate queue, screens, errors, the socket's handshake, the client."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.kiwoom import protocol as P
from brokers.kiwoom.bridge.core import BridgeLimits
from brokers.kiwoom.bridge.host_asyncio import start_fake_bridge
from brokers.kiwoom.bridge.ratelimit import RateQueue
from brokers.kiwoom.bridge.screens import ScreenManager, ScreensExhausted
from brokers.kiwoom.client import BridgeClient, BridgeDisconnected, BridgeError, BridgeTimeout
from brokers.kiwoom.errors import describe, kind_of, reason
from tests.brokers.kiwoom.harness import ACCOUNT, run

ROOT = Path(__file__).resolve().parents[3]


class ManualScheduler:
    """Time moves only when told: rate windows checked exactly."""

    def __init__(self) -> None:
        self.t = 0.0
        self._heap: list[tuple[float, int, object]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    def call_later(self, delay, fn):
        entry = [self.t + delay, next(self._seq), fn, False]

        class Handle:
            def cancel(self_inner):
                entry[3] = True

        heapq.heappush(self._heap, (entry[0], entry[1], entry))
        return Handle()

    def run_until(self, t: float) -> None:
        while self._heap and self._heap[0][0] <= t:
            due, _, entry = heapq.heappop(self._heap)
            self.t = max(self.t, due)
            if not entry[3]:
                entry[2]()
        self.t = max(self.t, t)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=40))
def test_rate_queue_never_exceeds_a_window_never_drops_and_keeps_order(arrivals):
    sched = ManualScheduler()
    queue = RateQueue("tr", ((1.0, 5), (10.0, 12)), sched)
    ran: list[tuple[int, float]] = []
    promised: dict[int, float] = {}
    for i, at in enumerate(sorted(arrivals)):
        sched.run_until(at)
        queue.submit(lambda i=i: ran.append((i, sched.now())),
                     on_queued=lambda wait, ahead, i=i: promised.setdefault(i, sched.now() + wait))
    sched.run_until(1_000)
    assert [i for i, _ in ran] == list(range(len(arrivals)))  # all of them, in order
    times = [t for _, t in ran]
    for span, limit in ((1.0, 5), (10.0, 12)):
        for t in times:
            assert sum(1 for u in times if t - span < u <= t) <= limit
    for i, at in promised.items():  # the announced wait was the real wait
        assert times[i] == pytest.approx(at)


def test_screens_are_four_digits_never_0000_and_hold_100_codes():
    screens = ScreenManager()
    plan = screens.place_codes([f"{i:06d}" for i in range(250)])
    assert [len(batch) for _, batch, _ in plan] == [100, 100, 50]
    for number, batch, _ in plan:
        screens.commit(number, batch)
    assert all(len(n) == 4 and n != "0000" for n in screens.real)
    more = screens.place_codes([f"{i:06d}" for i in range(250, 300)])
    assert more[0][0] == plan[-1][0] and len(more[0][1]) == 50  # fills the open screen first
    assert screens.remove_code("000000") == plan[0][0]
    borrowed = [screens.borrow() for _ in range(200 - screens.in_use)]
    assert screens.in_use == 200 and "0000" not in borrowed
    with pytest.raises(ScreensExhausted):
        screens.borrow()


def test_error_codes_have_reasons_and_kinds():
    assert kind_of(-308) == kind_of(-200) == "rate_limited" and reason(-308).retryable
    assert kind_of(-300) == "input" and kind_of(-100) == "login" and kind_of(0) == "ok"
    assert "주문전송 과부하" in describe(-308) and "more than 5" in describe(-308)
    assert "사용자정보 교환 실패" in describe(-100) and "버전처리 실패" in describe(-102)
    assert "UNKNOWN" in describe(-9999)


async def _raw(port: int, hello: dict) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(P.encode(hello))
    line = await asyncio.wait_for(reader.readline(), 6)
    writer.close()
    return P.decode(line)


def test_the_socket_wants_the_token_the_version_and_one_client():
    async def scenario():
        bridge = await start_fake_bridge("s3cret")
        try:
            wrong = await _raw(bridge.port, {"t": "hello", "v": P.VERSION, "token": "guess"})
            old = await _raw(bridge.port, {"t": "hello", "v": 0, "token": "s3cret"})
            first = BridgeClient(lambda m: None)
            welcome = await first.connect("127.0.0.1", bridge.port, "s3cret")
            busy = await _raw(bridge.port, {"t": "hello", "v": P.VERSION, "token": "s3cret"})
            await first.close()
            return wrong, old, welcome, busy
        finally:
            await bridge.close()
    wrong, old, welcome, busy = run(scenario())
    assert wrong["t"] == "bye" and wrong["reason"] == "bad_token"
    assert old["reason"] == "version"
    assert welcome["t"] == "welcome" and welcome["control"] == "fake"
    assert busy["reason"] == "busy"


def test_events_raised_while_no_client_is_connected_are_kept():
    async def scenario():
        bridge = await start_fake_bridge("tok")
        try:
            events: list[dict] = []
            client = BridgeClient(events.append)
            await client.connect("127.0.0.1", bridge.port, "tok")
            await client.request("login")
            await client.request("order", {"account": ACCOUNT, "order_type": 1,
                                           "code": "005930", "qty": 10, "price": 71_000})
            await asyncio.sleep(0.05)
            await client.close()
            await asyncio.sleep(0.05)
            bridge.venue.external("005930", "sell", 4, 71_000)  # fills while nobody listens
            await asyncio.sleep(0.05)
            later: list[dict] = []
            again = BridgeClient(later.append)
            welcome = await again.connect("127.0.0.1", bridge.port, "tok")
            await asyncio.sleep(0.05)
            await again.close()
            return events, welcome, later
        finally:
            await bridge.close()
    events, welcome, later = run(scenario())
    kept = [e for e in later if e["ev"] == "chejan"]
    assert [e["g"] for e in kept] == ["0", "1"] and kept[0]["f"]["913"] == "체결"
    assert kept[0]["seq"] == max(e["seq"] for e in events if e["ev"] == "chejan") + 1
    assert welcome["logged_in"] is True and welcome["seq"] == kept[-1]["seq"]


def test_client_timeouts_queue_notices_and_disconnects():
    async def scenario():
        bridge = await start_fake_bridge("tok", limits=BridgeLimits(tr_windows=((1.0, 1),)))
        try:
            client = BridgeClient(lambda m: None)
            with pytest.raises(BridgeDisconnected) as never:
                await client.request("ping")
            await client.connect("127.0.0.1", bridge.port, "tok")
            await client.request("login")
            bridge.control.tr_delay = 0.5  # Kiwoom is slow today
            with pytest.raises(BridgeTimeout):
                await client.request("tr", {"trcode": "opw00001",
                                            "inputs": {"계좌번호": ACCOUNT}}, timeout=0.1)
            bridge.control.tr_delay = 0.002
            await asyncio.sleep(1.1)
            waits: list[float] = []
            # One per second: the second request waits ~1 s but its 0.5 s timeout is
            # extended by the wait the bridge announced.
            replies = await asyncio.gather(*(client.request(
                "tr", {"trcode": "opw00001", "inputs": {"계좌번호": ACCOUNT},
                       "single": ["예수금"]}, timeout=0.5,
                on_queued=lambda wait, ahead: waits.append(wait)) for _ in range(2)))
            with pytest.raises(BridgeError) as bad:
                await client.request("tr", {"trcode": "opw00001", "prev_next": 7})
            await bridge.close()
            await asyncio.sleep(0.05)
            with pytest.raises(BridgeDisconnected) as gone:
                await client.request("ping")
            return never.value, replies, waits, bad.value, gone.value
        finally:
            await bridge.close()
    never, replies, waits, bad, gone = run(scenario())
    assert never.sent is False and gone.sent is False
    assert [r["single"]["예수금"] for r in replies] == ["000000100000000"] * 2
    assert len(waits) == 1 and 0.5 < waits[0] <= 1.0
    assert bad.kind == "bad_request"


def test_tr_items_are_checked_against_the_trs_metadata_when_known():
    """On Windows pykiwoom's reader of the TR files supplies this; here a stand-in."""
    async def scenario():
        bridge = await start_fake_bridge("tok")
        bridge.core.tr_info = lambda tr: {"output": [{"예수금": ["예수금", "주문가능금액"]}]}
        try:
            client = BridgeClient(lambda m: None)
            await client.connect("127.0.0.1", bridge.port, "tok")
            await client.request("login")
            with pytest.raises(BridgeError) as info:
                await client.request("tr", {"trcode": "opw00001",
                                            "inputs": {"계좌번호": ACCOUNT},
                                            "single": ["예수굼"]})
            await client.close()
            return info.value
        finally:
            await bridge.close()
    error = run(scenario())
    assert error.kind == "input" and "예수굼" in str(error)


def test_the_bridge_imports_with_the_standard_library_only():
    """The 32-bit interpreter has no engine, pandas, numpy, PyQt5 or pykiwoom."""
    blocked = ["engine", "pandas", "numpy", "PyQt5", "pykiwoom", "PySide6"]
    code = ("import sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None\n"
            "import brokers.kiwoom.bridge.__main__, brokers.kiwoom.bridge.host_qt\n"
            "import brokers.kiwoom.bridge.host_asyncio, brokers.kiwoom.fake\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_bridge_program_serves_and_exits_when_its_stdin_closes(tmp_path):
    env = {**os.environ, P.TOKEN_ENV: "tok", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "brokers.kiwoom.bridge", "--fake",
                             "--fake-state", str(tmp_path / "v.json")], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["t"] == "ready" and ready["v"] == P.VERSION and ready["pid"] == proc.pid

        async def talk():
            client = BridgeClient(lambda m: None)
            await client.connect("127.0.0.1", ready["port"], "tok")
            info = await client.request("login")
            await client.close()
            return info
        assert run(talk())["server"] == "mock"
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
    missing_token = subprocess.run([sys.executable, "-m", "brokers.kiwoom.bridge", "--fake"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=30,
                                   env={k: v for k, v in os.environ.items()
                                        if k != P.TOKEN_ENV})
    assert missing_token.returncode == 2 and P.TOKEN_ENV in missing_token.stderr


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n",
                                               blacklist_categories=("Cs",)), max_size=30),
                min_size=1, max_size=20),
       st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_line_framing_gives_the_same_lines_however_the_stream_is_cut(lines, cuts):
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    framing = P.LineBuffer()
    got: list[bytes] = []
    at = 0
    for size in itertools.cycle(cuts):
        if at >= len(data):
            break
        got += framing.feed(data[at:at + size])
        at += size
    assert [g.decode("utf-8") for g in got] == lines


def test_line_framing_refuses_a_line_without_end():
    framing = P.LineBuffer(limit=10)
    assert framing.feed(b"12345") == []
    with pytest.raises(P.ProtocolError):
        framing.feed(b"678901")
    assert P.decode(P.encode({"t": "evt", "f": ["+71100", "한글"]})) == \
        {"t": "evt", "f": ["+71100", "한글"]}
    with pytest.raises(P.ProtocolError):
        P.decode(b"[1, 2]")


def test_messages_from_another_thread_arrive_in_order_with_few_wakeups():
    """On Windows the control's events are raised on the Qt thread and leave from the
    socket's loop: none lost, none reordered, and not one wake-up per message."""
    import threading

    from brokers.kiwoom.bridge.server import CrossThreadSender

    async def scenario():
        loop = asyncio.get_running_loop()
        got: list[int] = []
        sender = CrossThreadSender(loop, lambda msg: got.append(msg["n"]))
        done = asyncio.Event()

        def produce() -> None:
            for n in range(20_000):
                sender({"n": n})
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=produce).start()
        await done.wait()
        await asyncio.sleep(0.01)
        return got, sender.wakeups

    got, wakeups = run(scenario())
    assert got == list(range(20_000))
    assert wakeups < 20_000


def test_a_burst_leaves_the_bridge_in_few_socket_writes():
    async def scenario():
        bridge = await start_fake_bridge("tok")
        try:
            events: list[dict] = []
            client = BridgeClient(events.append)
            await client.connect("127.0.0.1", bridge.port, "tok")
            await client.request("login")
            await client.request("real_reg", {"codes": ["005930"], "fids": [10, 15, 20, 13]})
            await client.request("real_reg", {"codes": ["005930"], "fids": [21, 41, 61]})
            writes = bridge.server.writes
            await client.request("sim", {"action": "burst", "code": "005930", "count": 2_000,
                                         "rate": 20_000, "kinds": ["trade", "book"]})
            while len(events) < 2_000:
                await asyncio.sleep(0.01)
            await client.close()
            return events, bridge.server.writes - writes
        finally:
            await bridge.close()

    events, writes = run(scenario())
    assert [e["rt"] for e in events[:4]] == ["주식체결", "주식호가잔량"] * 2
    assert all(len(e["f"]) == len(P.REAL_FIDS[e["rt"]]) for e in events)
    trade = dict(zip(P.REAL_KEYS["주식체결"], events[0]["f"], strict=True))
    assert trade["10"].lstrip("+-").isdigit() and trade["15"][0] in "+-"
    assert writes < 2_000 / 4


def test_the_default_tr_limit_holds_the_1001st_query_of_an_hour():
    """Kiwoom's longer window: 1,000 TR queries an hour, even at a legal 4 per second."""
    from brokers.kiwoom.bridge.ratelimit import ORDER_WINDOWS, TR_WINDOWS

    sched = ManualScheduler()
    queue = RateQueue("tr", TR_WINDOWS, sched)
    ran: list[float] = []
    waits: list[float] = []
    for i in range(1_001):
        sched.run_until(i * 0.25)
        queue.submit(lambda: ran.append(sched.now()), on_queued=lambda w, a: waits.append(w))
    assert len(ran) == 1_000 and waits == [pytest.approx(3_600 - 250)]
    sched.run_until(4_000)
    assert ran[-1] == pytest.approx(3_600)  # an hour after the first
    orders = RateQueue("order", ORDER_WINDOWS, ManualScheduler())
    for _ in range(6):
        orders.submit(lambda: None)
    assert orders.sent == 5 and len(orders) == 1  # 5 orders a second
