"""Account reconciliation: opw00001 (deposit) and opw00018 (holdings, paged) at login and
periodically, through adapter + bridge + fake control."""

from __future__ import annotations

from brokers.kiwoom.fake.server import FakeKiwoomServer, Holding, Stock
from tests.brokers.kiwoom.harness import ACCOUNT, T0, Harness, run, until

NS = 1_000_000_000

UNIVERSE = tuple(Stock(f"{100_000 + i:06d}", f"종목{i}", "0", 10_000) for i in range(25))


def test_holdings_page_through_opw00018_and_reconcile_periodically():
    venue = FakeKiwoomServer(universe=UNIVERSE)
    held = venue.accounts[ACCOUNT].holdings
    for i, stock in enumerate(UNIVERSE):  # 25 holdings: opw00018 sends 20 per page
        held[stock.code] = Holding(qty=i + 1, cost=(i + 1) * 10_000)

    async def scenario():
        async with Harness(venue=venue, reconcile_interval_s=60.0) as h:
            at_login = dict(h.broker.holdings), h.broker.deposit, h.broker.reconciles
            # Behind the terminal's back (Kiwoom's HTS): one stock sold, cash moved.
            del held[UNIVERSE[0].code]
            venue.accounts[ACCOUNT].cash -= 1_234_567
            h.clock.advance_to(T0 + 61 * NS)
            await until(lambda: h.broker.reconciles == 2, what="the periodic reconciliation")
            return at_login, dict(h.broker.holdings), h.broker.deposit

    (holdings, deposit, reconciles), later, later_deposit = run(scenario())
    assert reconciles == 1
    assert len(holdings) == 25
    assert {code: h.qty for code, h in holdings.items()} == \
        {s.code: i + 1 for i, s in enumerate(UNIVERSE)}
    assert holdings[UNIVERSE[3].code].avg_price == 10_000
    assert deposit.cash == 100_000_000 and deposit.orderable == 100_000_000
    assert len(later) == 24 and UNIVERSE[0].code not in later
    assert later_deposit.cash == 100_000_000 - 1_234_567
