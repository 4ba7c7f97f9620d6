"""The same search on a Dask LocalCluster (loopback TCP) as on the local process pool."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.backtest import optimize as opt
from engine.errors import UserError
from tests.engine.backtest.test_optimize import search

distributed = pytest.importorskip("distributed")
SPACE = {"entry": "6:10", "exit": "27:30"}


@pytest.fixture(scope="module")
def pooled():
    # Before the cluster starts its threads, so the pool forks instead of starting a
    # forkserver (the same code either way; seconds faster).
    return search(SPACE, workers=2)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as local:
        yield local


def test_a_cluster_run_equals_the_process_pool_run(pooled, cluster):
    on_dask = search(SPACE, cluster=cluster.scheduler_address)
    assert pooled.backend == "2 processes"
    assert on_dask.backend == f"Dask cluster {cluster.scheduler_address}"
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    pd.testing.assert_frame_equal(pooled.trials, on_dask.trials)
    assert on_dask.best.params == pooled.best.params


def test_a_client_can_be_passed_and_stays_open(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        calls = []
        result = search({"entry": "8:9", "exit": "29"}, cluster=client,
                        progress=lambda *a: calls.append(a))
        assert result.done == 2 and [c[0] for c in calls] == [1, 2]
        assert client.status == "running"


def test_an_unreachable_scheduler_is_a_user_error(monkeypatch):
    monkeypatch.setattr(opt, "CONNECT_TIMEOUT_S", 0.5)
    with pytest.raises(UserError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:9"):
        search({"entry": "8:9", "exit": "29"}, cluster="tcp://127.0.0.1:9")
