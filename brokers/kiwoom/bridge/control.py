"""Typed calls into the Kiwoom control, with the control's exact signatures.

PyQt5's ``QAxWidget.dynamicCall`` invokes a COM method by its signature string;
the fake control implements the same ``dynamicCall``, so the bridge runs one
code path against both. More than 8 arguments must be passed as one list (that
is how QAxBase takes them), which is why ``SendOrder`` passes a list.

Events are Qt signals on the control (``ocx.OnReceiveRealData.connect(slot)``);
``connect_events`` wires them up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class AxControl(Protocol):
    def dynamicCall(self, signature: str, *args: Any) -> Any: ...  # noqa: N802 - Qt's name


EVENTS = ("OnEventConnect", "OnReceiveTrData", "OnReceiveRealData", "OnReceiveMsg",
          "OnReceiveChejanData")


class ControlApi:
    def __init__(self, ocx: AxControl) -> None:
        self.ocx = ocx
        self._call = ocx.dynamicCall

    def connect_events(self, **handlers: Callable[..., None]) -> None:
        """``connect_events(OnReceiveRealData=fn, ...)``: attach one slot per event."""
        for name, handler in handlers.items():
            if name not in EVENTS:
                raise ValueError(f"unknown Kiwoom event {name!r}")
            getattr(self.ocx, name).connect(handler)

    # ---- session ------------------------------------------------------------
    def comm_connect(self) -> int:
        return int(self._call("CommConnect()"))

    def get_connect_state(self) -> int:
        return int(self._call("GetConnectState()"))

    def get_login_info(self, tag: str) -> str:
        return str(self._call("GetLoginInfo(QString)", tag))

    def koa_functions(self, name: str, param: str = "") -> str:
        return str(self._call("KOA_Functions(QString, QString)", name, param))

    # ---- master data ----------------------------------------------------------
    def get_code_list_by_market(self, market: str) -> str:
        return str(self._call("GetCodeListByMarket(QString)", market))

    def get_master_code_name(self, code: str) -> str:
        return str(self._call("GetMasterCodeName(QString)", code))

    def get_master_last_price(self, code: str) -> str:
        return str(self._call("GetMasterLastPrice(QString)", code))

    # ---- TR queries -------------------------------------------------------------
    def set_input_value(self, item: str, value: str) -> None:
        self._call("SetInputValue(QString, QString)", item, value)

    def comm_rq_data(self, rqname: str, trcode: str, prev_next: int, screen: str) -> int:
        return int(self._call("CommRqData(QString, QString, int, QString)",
                              rqname, trcode, prev_next, screen))

    def get_comm_data(self, trcode: str, rqname: str, index: int, item: str) -> str:
        return str(self._call("GetCommData(QString, QString, int, QString)",
                              trcode, rqname, index, item))

    def get_repeat_cnt(self, trcode: str, rqname: str) -> int:
        return int(self._call("GetRepeatCnt(QString, QString)", trcode, rqname))

    def disconnect_real_data(self, screen: str) -> None:
        self._call("DisconnectRealData(QString)", screen)

    # ---- orders -----------------------------------------------------------------
    def send_order(self, rqname: str, screen: str, account: str, order_type: int, code: str,
                   qty: int, price: int, hoga: str, orig_no: str) -> int:
        return int(self._call(
            "SendOrder(QString, QString, QString, int, QString, int, int, QString, QString)",
            [rqname, screen, account, order_type, code, qty, price, hoga, orig_no]))

    def get_chejan_data(self, fid: int) -> str:
        return str(self._call("GetChejanData(int)", fid))

    # ---- real-time --------------------------------------------------------------
    def set_real_reg(self, screen: str, codes: str, fids: str, opt_type: str) -> int:
        return int(self._call("SetRealReg(QString, QString, QString, QString)",
                              screen, codes, fids, opt_type))

    def set_real_remove(self, screen: str, code: str) -> None:
        self._call("SetRealRemove(QString, QString)", screen, code)

    def get_comm_real_data(self, code: str, fid: int) -> str:
        return str(self._call("GetCommRealData(QString, int)", code, fid))

    def get_comm_real_values(self, code: str, fids: tuple[int, ...]) -> list[str]:
        """GetCommRealData for each of ``fids``, in order (inside OnReceiveRealData)."""
        call = self._call
        return [str(call("GetCommRealData(QString, int)", code, fid)) for fid in fids]
