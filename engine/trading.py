"""The trading engine: one place where orders from every source meet risk.

``TradingEngine`` wires the bus, the clock, the OMS and its journal, the
ledger, pre-trade risk, the kill switch and the brokers. Strategies, the GUI's
order ticket and execution algorithms all call ``submit``; nothing else can
reach a broker's ``place_order``. The same object runs live (``LoopRunner``)
and in backtests (``InlineRunner`` with a ``SimulatedClock``).

Example::

    engine = TradingEngine(clock=SimulatedClock(), journal=MemoryJournal())
    engine.instruments.add(krx_stock("005930"))
    engine.add_broker(paper_broker)
    engine.open_account("paper", "KRW", Decimal(10_000_000))
    result = engine.submit(OrderIntent("005930", Side.BUY, 10, OrderType.LIMIT, 71_200))
    if not result.accepted:
        print(result.rejection.message)
    engine.kill("market is going crazy")          # cancels, flattens, halts, latches
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from engine.bus import EventBus
from engine.clock import Clock
from engine.execution.broker import Broker, BrokerUnavailable
from engine.execution.intents import OrderIntent, Rejection, SubmitResult
from engine.execution.journal import Journal
from engine.execution.oms import ClientOrderIds, OrderManager
from engine.instruments import InstrumentRegistry
from engine.market_state import MarketState
from engine.models import (
    ConnectionState,
    FundingPayment,
    Order,
    OrderSource,
    OrderType,
    RiskEvent,
    Side,
    TimeInForce,
    to_decimal,
)
from engine.portfolio.ledger import Ledger
from engine.risk.kill_switch import KillSwitch
from engine.risk.limits import PreTradeRisk, RiskLimits
from engine.tasks import InlineRunner, LoopRunner, TaskRunner

log = logging.getLogger(__name__)
NS = 1_000_000_000
FUNDING_STATE = "ledger.funding_payments"  # ids already booked
_INLINE = InlineRunner()  # runs commands of brokers with ``inline_commands`` in the caller


@dataclass(frozen=True, slots=True)
class EngineConfig:
    default_broker: str = "paper"
    flatten_on_kill: bool = True
    max_broker_errors: int = 5
    broker_error_window_seconds: float = 60.0
    auto_kill_on_broker_errors: bool = True
    require_connected_broker: bool = True


@dataclass(frozen=True, slots=True)
class KillReport:
    """What one press of the kill switch did."""

    cancels_sent: int
    flatten_orders: tuple[SubmitResult, ...]
    already_latched: bool
    ts_ns: int


class TradingEngine:
    def __init__(
        self,
        *,
        clock: Clock,
        journal: Journal,
        limits: RiskLimits | None = None,
        config: EngineConfig | None = None,
        bus: EventBus | None = None,
        instruments: InstrumentRegistry | None = None,
        runner: TaskRunner | None = None,
        ids: ClientOrderIds | None = None,
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.config = config or EngineConfig()
        self.bus = bus or EventBus()
        self.instruments = instruments or InstrumentRegistry()
        self.runner = runner or LoopRunner()
        self.ledger = Ledger()
        self.market = MarketState(self.bus, marks=self.ledger.mark)
        self.oms = OrderManager(self.bus, clock, journal, self.ledger, self.instruments, ids=ids,
                                on_missed_fill=self._missed_fill)
        self.kill_switch = KillSwitch(journal, clock, self.bus)
        self.oms.on_journal_failure = self._journal_failed
        self.risk = PreTradeRisk(
            limits or RiskLimits(), clock, self.instruments, self.oms, self.ledger, self.market,
            kill_switch_latched=lambda: self.kill_switch.latched,
            entries_blocked=self.entries_blocked_reason,
        )
        self.brokers: dict[str, Broker] = {}
        self.routes: dict[str, str] = {}
        self.rejections: Counter[str] = Counter()
        self._entry_blocks: dict[str, str] = {}
        self._halt_hooks: list[Callable[[str], None]] = []
        self._broker_errors: dict[str, deque[int]] = {}
        self.bus.subscribe(FundingPayment, self._book_funding)

    # ---- setup ----------------------------------------------------------------
    @classmethod
    def for_backtest(cls, *, clock: Clock, journal: Journal, **kwargs: object) -> TradingEngine:
        """An engine whose broker commands run inline (no event loop needed)."""
        return cls(clock=clock, journal=journal, runner=InlineRunner(),
                   ids=ClientOrderIds(prefix="bt", session=""), **kwargs)  # type: ignore[arg-type]

    def add_broker(self, broker: Broker) -> None:
        self.brokers[broker.name] = broker

    def route(self, symbol: str, broker: str) -> None:
        """Send orders for ``symbol`` that name no broker to ``broker``.

        E.g. US stocks to a USD paper account and KRX stocks to a KRW one.
        """
        self.routes[symbol] = broker

    def broker_for(self, symbol: str) -> str:
        """The broker an order for ``symbol`` goes to when it names none."""
        return self.routes.get(symbol, self.config.default_broker)

    def open_account(self, broker: str, currency: str, cash: Decimal) -> None:
        """Open the ledger account of ``broker`` (persisted: a restart reopens it)."""
        accounts = dict(self.journal.load_state("ledger.accounts", {}) or {})
        if broker not in accounts:
            accounts[broker] = {"currency": currency, "opening": str(cash)}
            self.journal.save_state("ledger.accounts", accounts)
            self.journal.flush()
        if not self.ledger.has_account(broker):
            saved = accounts[broker]
            self.ledger.open_account(broker, saved["currency"], Decimal(saved["opening"]))

    def restore(self) -> None:
        """Reopen accounts and rebuild orders, fills and positions from the journal."""
        for broker, saved in (self.journal.load_state("ledger.accounts", {}) or {}).items():
            if not self.ledger.has_account(broker):
                self.ledger.open_account(broker, saved["currency"], Decimal(saved["opening"]))
        for broker, amount in (self.journal.load_state("ledger.transfers", {}) or {}).items():
            if self.ledger.has_account(broker):
                self.ledger.transfer(broker, Decimal(amount))
        self.oms.rebuild()

    def transfer(self, broker: str, amount: Decimal, reason: str) -> None:
        """Book cash in or out (funding, deposits, reconciliation), journaled."""
        totals = dict(self.journal.load_state("ledger.transfers", {}) or {})
        totals[broker] = str(Decimal(totals.get(broker, "0")) + amount)
        self.journal.save_state("ledger.transfers", totals)
        self.journal.flush()
        self.ledger.transfer(broker, amount)
        log.info("cash transfer %s %s: %s", broker, amount, reason)

    def on_halt(self, callback: Callable[[str], None]) -> None:
        """``callback(reason)`` is called when the kill switch halts trading."""
        self._halt_hooks.append(callback)

    async def connect_all(self) -> None:
        """Connect every broker; one that fails is reported and the others still connect."""
        for broker in self.brokers.values():
            try:
                await broker.connect()
                for inst in await broker.instruments():
                    self.instruments.add(inst)
            except Exception as exc:  # noqa: BLE001 - a venue down must not stop the terminal
                log.error("%s could not connect: %s", broker.name, exc)
                self.report_broker_error(broker.name, exc)
        if self.kill_switch.latched:
            log.warning("the kill switch is latched (%s): cancelling anything still open",
                        self.kill_switch.state.reason)
            self._cancel_everything()

    async def disconnect_all(self) -> None:
        for broker in self.brokers.values():
            await broker.disconnect()

    # ---- entry gates (portfolio risk) ------------------------------------------
    def block_entries(self, key: str, reason: str) -> None:
        if self._entry_blocks.get(key) != reason:
            self._entry_blocks[key] = reason
            self._risk_event(f"entries_blocked.{key}", f"new entries stopped: {reason}", "warning")

    def unblock_entries(self, key: str) -> None:
        self._entry_blocks.pop(key, None)

    def entries_blocked_reason(self, broker: str = "") -> str | None:
        return "; ".join(self._entry_blocks.values()) or None

    # ---- orders -------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> SubmitResult:
        """Risk-check ``intent`` and, if it passes, create the order and send it."""
        broker_name = intent.broker or self.broker_for(intent.symbol)
        broker = self.brokers.get(broker_name)
        rejection: Rejection | None = None
        if broker is None:
            rejection = Rejection("unknown_broker", f"no broker named {broker_name!r}")
        elif self.config.require_connected_broker and broker.state is not ConnectionState.CONNECTED:
            rejection = Rejection("broker_disconnected",
                                  f"{broker_name} is {broker.state.value.lower()}")
        else:
            rejection = self.risk.check(intent, broker_name)
        if rejection is not None:
            return self._reject(intent, broker_name, rejection)
        assert broker is not None
        order = self.oms.create(
            broker=broker_name,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.order_type,
            quantity=to_decimal(intent.quantity),
            price=None if intent.price is None else to_decimal(intent.price),
            stop_price=None if intent.stop_price is None else to_decimal(intent.stop_price),
            time_in_force=intent.time_in_force,
            source=intent.source,
            strategy_id=intent.strategy_id,
            tag=intent.tag,
            reduce_only=intent.reduce_only,
            post_only=intent.post_only,
        )
        self.risk.order_sent(intent, broker_name)
        self._runner_for(broker).spawn(broker.place_order(order), f"place {order.client_order_id}",
                                       on_error=partial(self._place_failed, order))
        return SubmitResult(order=order)

    def _reject(self, intent: OrderIntent, broker: str, rejection: Rejection) -> SubmitResult:
        self.rejections[rejection.code] += 1
        details: dict[str, object] = {
            "side": getattr(intent.side, "value", str(intent.side)),
            "quantity": str(intent.quantity),
            "order_type": intent.order_type.value,
            "price": None if intent.price is None else str(intent.price),
            "source": intent.source.value,
            "strategy_id": intent.strategy_id,
        }
        log.info("order rejected (%s): %s", rejection.code, rejection.message)
        self._risk_event(rejection.code, rejection.message, "warning", symbol=intent.symbol,
                         broker=broker, details=details, kind="rejection")
        return SubmitResult(rejection=rejection)

    def _place_failed(self, order: Order, exc: BaseException) -> None:
        if isinstance(exc, BrokerUnavailable):
            self.oms.reject_locally(order.client_order_id, f"not sent: {exc}")
            return
        # The request may or may not have reached the venue: never resend blindly.
        self._risk_event("order_outcome_unknown", f"placing {order.client_order_id} failed: {exc}; "
                         "the broker adapter will reconcile it", "critical", symbol=order.symbol,
                         broker=order.broker, client_order_id=order.client_order_id)
        self.report_broker_error(order.broker, exc)

    def _runner_for(self, broker: Broker) -> TaskRunner:
        # A venue whose commands never suspend (paper) gets them in this call: its own
        # simulated latency then starts at the engine's time, not whenever the loop next
        # runs a task (at "max" replay speed that was a simulated minute later, so
        # results depended on the machine's speed).
        return _INLINE if broker.capabilities.inline_commands else self.runner

    def cancel(self, client_order_id: str) -> bool:
        """Ask the broker to cancel one order. Never blocked by risk."""
        return self._cancel(client_order_id)

    def _cancel(self, client_order_id: str) -> bool:
        order = self.oms.mark_cancel_requested(client_order_id)
        if order is None:
            return False
        broker = self.brokers.get(order.broker)
        if broker is None:
            return False
        self.risk.cancel_sent()
        self._runner_for(broker).spawn(broker.cancel_order(order), f"cancel {client_order_id}",
                     on_error=lambda exc: self.report_broker_error(order.broker, exc))
        return True

    def cancel_all(self, broker: str | None = None, symbol: str | None = None) -> int:
        return sum(self.cancel(o.client_order_id) for o in self.oms.open_orders(broker, symbol))

    def amend(self, client_order_id: str, quantity: object | None = None,
              price: object | None = None) -> Rejection | None:
        """Change an open order's quantity and/or price, after the validity checks."""
        order = self.oms.get(client_order_id)
        if order is None or not order.is_open:
            return Rejection("unknown_order", f"no open order {client_order_id}")
        intent = OrderIntent(
            symbol=order.symbol, side=order.side,
            quantity=order.quantity if quantity is None else quantity,  # type: ignore[arg-type]
            order_type=order.order_type,
            price=order.price if price is None else price,  # type: ignore[arg-type]
            stop_price=order.stop_price, broker=order.broker, source=OrderSource.RISK,
        )
        rejection = self.risk.check(intent, order.broker)
        if rejection is not None and rejection.code not in ("max_position", "gross_exposure"):
            self._reject(intent, order.broker, rejection)
            return rejection
        new_qty = None if quantity is None else to_decimal(quantity)  # type: ignore[arg-type]
        new_price = None if price is None else to_decimal(price)  # type: ignore[arg-type]
        broker = self.brokers[order.broker]
        self._runner_for(broker).spawn(
            broker.amend_order(order, new_qty, new_price), f"amend {client_order_id}",
            on_error=lambda exc: self._risk_event(
                "amend_failed", f"amending {client_order_id} failed: {exc}", "warning",
                client_order_id=client_order_id))
        return None

    def closing_pending(self, broker: str, symbol: str, side: Side) -> Decimal:
        """Quantity already on its way to close a position: open reduce-only orders on
        ``side`` that nobody is cancelling, whoever sent them (a strategy's exit, the
        risk monitor's session-end flatten, the ticket). A second closing order for
        the same quantity would only be refused by the venue."""
        cancelling = self.oms.pending_cancels
        return sum((o.remaining_qty for o in self.oms.open_orders(broker, symbol)
                    if o.reduce_only and o.side is side
                    and o.client_order_id not in cancelling), Decimal(0))

    def flatten(self, symbol: str | None = None, broker: str | None = None,
                source: OrderSource = OrderSource.TICKET, reason: str = "flatten") -> list[SubmitResult]:
        """Market orders that close positions (all, or one symbol / broker)."""
        results = []
        for pos in self.ledger.positions(broker):
            if symbol is not None and pos.symbol != symbol:
                continue
            side = Side.SELL if pos.quantity > 0 else Side.BUY
            qty = abs(pos.quantity) - self.closing_pending(pos.broker, pos.symbol, side)
            if qty <= 0:
                continue
            results.append(self.submit(OrderIntent(
                symbol=pos.symbol, side=side, quantity=qty, order_type=OrderType.MARKET,
                time_in_force=TimeInForce.GTC, broker=pos.broker, source=source, tag=reason,
                reduce_only=True,
            )))
        return results

    # ---- the kill switch ----------------------------------------------------------
    def kill(self, reason: str, by: str = "user", source: str = "button") -> KillReport:
        """Stop all trading now: latch, halt strategies, cancel everything, flatten.

        Safe to call again while latched: it re-sends cancels and re-flattens.
        """
        newly = self.kill_switch.latch(reason, by, source)
        for hook in self._halt_hooks:
            try:
                hook(reason)
            except Exception:
                log.exception("halting %s failed", hook)
        cancels = self._cancel_everything()
        flattened: tuple[SubmitResult, ...] = ()
        if self.config.flatten_on_kill:
            flattened = tuple(self.flatten(source=OrderSource.KILL_SWITCH, reason="kill switch"))
        self._risk_event("kill_switch", f"KILL SWITCH by {by} ({source}): {reason}", "critical",
                         details={"by": by, "source": source, "cancels_sent": cancels,
                                  "flatten_orders": len(flattened), "already_latched": not newly})
        log.critical("KILL SWITCH by %s (%s): %s; %d cancels, %d flatten orders",
                     by, source, reason, cancels, len(flattened))
        return KillReport(cancels, flattened, not newly, self.clock.now_ns())

    def _cancel_everything(self) -> int:
        # A venue whose commands never suspend (paper) gets its cancels now, in this
        # call, and its confirmations are journaled in one commit: 200 cancels take
        # milliseconds instead of a task and a commit each. Others get tasks as usual.
        sent = 0
        try:
            with self.oms.group_commit():
                for o in self.oms.open_orders():
                    sent += self._cancel(o.client_order_id)
        except Exception:  # the journal failed: the OMS raised the alarm; keep killing
            log.exception("journaling the kill switch's cancels failed")
        for broker in self.brokers.values():
            self.runner.spawn(self._sweep_untracked(broker), f"sweep {broker.name}",
                              on_error=partial(self.report_broker_error, broker.name))
        return sent

    async def _sweep_untracked(self, broker: Broker) -> None:
        """Cancel orders the venue has that we are not already cancelling."""
        if broker.state is not ConnectionState.CONNECTED:
            return
        for order in await broker.fetch_open_orders():
            if order.client_order_id in self.oms.pending_cancels:
                continue
            known = self.oms.get(order.client_order_id)
            if known is not None and known.source is OrderSource.KILL_SWITCH:
                continue
            await broker.cancel_order(order)

    def rearm(self, by: str = "user") -> Rejection | None:
        """Release the latch; refused while cancels are unconfirmed."""
        if not self.kill_switch.latched:
            return None
        waiting = [o.client_order_id for o in self.oms.open_orders()
                   if o.source is not OrderSource.KILL_SWITCH or
                   o.client_order_id in self.oms.pending_cancels]
        if waiting:
            return Rejection("cancels_unconfirmed", f"{len(waiting)} orders are not confirmed "
                             f"cancelled yet ({', '.join(waiting[:5])}); re-arm refused")
        self.kill_switch.release(by)
        self._risk_event("kill_switch_rearmed", f"kill switch re-armed by {by}", "info")
        return None

    # ---- broker health -------------------------------------------------------------
    def report_broker_error(self, broker: str, exc: BaseException | str) -> None:
        """Count a broker error; too many in the window throws the kill switch."""
        window = self._broker_errors.setdefault(broker, deque())
        now = self.clock.now_ns()
        window.append(now)
        horizon = now - int(self.config.broker_error_window_seconds * NS)
        while window and window[0] < horizon:
            window.popleft()
        log.warning("broker %s error: %s", broker, exc)
        if (self.config.auto_kill_on_broker_errors and len(window) >= self.config.max_broker_errors
                and not self.kill_switch.latched):
            self.kill(f"{len(window)} errors from {broker} within "
                      f"{self.config.broker_error_window_seconds:g} s (last: {exc})",
                      by="auto", source="broker_errors")

    def _journal_failed(self, exc: Exception) -> None:
        """Nothing may trade that cannot be journaled: stop everything."""
        if not self.kill_switch.latched:
            self.kill(f"the journal cannot be written ({exc})", by="auto", source="journal")

    def _missed_fill(self, broker: str) -> None:
        target = self.brokers.get(broker)
        if target is not None:
            self.runner.spawn(self._fetch_missing_fills(target), f"fetch fills {broker}")

    async def _fetch_missing_fills(self, broker: Broker) -> None:
        self.oms.replay_fills(await broker.fetch_fills())

    def _book_funding(self, payment: FundingPayment) -> None:
        """Funding on a perpetual is cash in or out of the account: booked once per id."""
        seen = list(self.journal.load_state(FUNDING_STATE, []) or [])
        key = f"{payment.broker}:{payment.payment_id}"
        if key in seen:
            return
        if not self.ledger.has_account(payment.broker):
            log.warning("funding %s %s on %s not booked: no ledger account %s",
                        payment.amount, payment.asset, payment.symbol, payment.broker)
            return
        currency = self.ledger.account(payment.broker).currency
        if payment.asset != currency:
            log.warning("funding %s %s on %s not booked: the account is in %s",
                        payment.amount, payment.asset, payment.symbol, currency)
            return
        seen.append(key)
        self.journal.save_state(FUNDING_STATE, seen[-10_000:])
        self.transfer(payment.broker, payment.amount, f"funding {payment.symbol} "
                      f"{payment.payment_id}")

    # ---- internals ------------------------------------------------------------------
    def _risk_event(self, code: str, message: str, severity: str, *, symbol: str = "",
                    broker: str = "", client_order_id: str = "",
                    details: dict[str, object] | None = None, kind: str = "") -> None:
        payload = dict(details or {})
        if kind:
            payload["kind"] = kind
        event = RiskEvent(code=code, message=message, ts_ns=self.clock.now_ns(), symbol=symbol,
                          broker=broker, client_order_id=client_order_id, severity=severity,
                          details=payload)
        self.journal.record_risk_event(event)
        try:
            self.journal.flush()
        except Exception:
            log.exception("could not journal risk event %s", code)
        self.bus.publish(event)


