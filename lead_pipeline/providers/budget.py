"""A run's spending cap, kept by reserving each paid call's most before the call is made.

Asking "is the cap already spent?" before a call lets every row in flight pass
before any charge lands: five rows racing a $0.5 cap with $0.28 calls spent
$1.40. So every paid call first **reserves** the most it can cost (a search
request's price, an email finder's price per match, an LLM call's price at its
output-token limit); the reservation is one atomic step against the cap, and a
call whose reservation does not fit is not made (:class:`BudgetExceeded`). When
the answer comes, the reservation is **settled** at the real price (0 for "no
match"; a failed call that cost money at its cost). Cached answers cost nothing
and reserve nothing.

The amounts live in a :class:`Ledger`: :class:`LocalLedger` in this process,
or the lead store's (``store/ledger.py``), one per run, which every workflow,
shard and process of the run (Celery workers included) reserves against. A
process that dies with a reservation open leaves it counted: the money may
have been spent, so the cap stays a cap.

Amounts are whole nano-dollars (1e-9 USD): sums of integers do not drift the way
sums of floats do, so a reservation and its settlement cancel exactly.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from lead_pipeline.providers.errors import BudgetExceeded

NANOS_PER_USD = 1_000_000_000
# No single call costs more than this; a larger number is a hostile or broken price.
MAX_CALL_USD = 1_000_000.0


class InvalidCost(ValueError):
    """A price or cost that is not a finite, non-negative, bounded number of USD."""


def to_nanos(usd: object, what: str) -> int:
    """``usd`` as whole nano-dollars; :class:`InvalidCost` naming ``what`` unless it is a
    finite number between 0 and :data:`MAX_CALL_USD`."""
    if isinstance(usd, bool) or not isinstance(usd, int | float):
        raise InvalidCost(f"{what} is {type(usd).__name__}, not a number of USD")
    try:
        value = float(usd)
    except OverflowError:  # an int too large for a float
        raise InvalidCost(f"{what} is not a finite number of USD") from None
    if not math.isfinite(value):
        raise InvalidCost(f"{what} is {value}, not a finite number of USD")
    if value < 0:
        raise InvalidCost(f"{what} is negative (${value})")
    if value > MAX_CALL_USD:
        raise InvalidCost(f"{what} is ${value:.6g}, above ${MAX_CALL_USD:,.0f}")
    return round(value * NANOS_PER_USD)


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD


class Ledger(Protocol):
    """Where one run's reservations and spending are kept (amounts in nano-dollars)."""

    blocking: bool  # True: its calls do I/O, so callers on an event loop use a thread

    def reserve(self, amount: int) -> bool:
        """Add ``amount`` to the reserved sum if reserved + spent + amount stays within the
        cap, in one atomic step; False (and nothing changed) when it does not fit."""
        ...

    def settle(self, reserved: int, cost: int) -> None:
        """Release ``reserved`` and add ``cost`` to the spent sum, in one step."""
        ...


class LocalLedger:
    """A ledger in this process's memory: a run with no cap, or a session built by hand."""

    blocking = False

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.reserved = 0
        self.spent = 0
        self._lock = threading.Lock()

    def reserve(self, amount: int) -> bool:
        with self._lock:
            if self.cap is not None and self.reserved + self.spent + amount > self.cap:
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: int, cost: int) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += cost


@dataclass
class Reservation:
    """What one paid call has reserved so far (a call asked twice reserves twice)."""

    provider: str
    amount: int = 0  # nano-dollars


@dataclass
class Meter:
    """The money settled while it is current: the engine opens one per node, so a node's
    result carries what its calls cost even when the node then fails."""

    total: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, cost: float) -> None:
        with self._lock:
            self.total += cost


_METER: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("meter", default=None)


@contextlib.contextmanager
def metered() -> Iterator[Meter]:
    """Count every paid call settled in this context (its tasks and threads included)."""
    meter = Meter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


class Budget:
    """A run's cap (``max_cost`` USD; None: no cap) over a :class:`Ledger`.

    ``spent`` is what this object settled (this process's part of the run).
    """

    def __init__(self, max_cost: float | None = None, *, ledger: Ledger | None = None) -> None:
        if max_cost is not None:
            to_nanos(max_cost, "max_cost")  # refuses a negative, infinite or absurd cap
        self.max_cost = max_cost
        self.ledger: Ledger = ledger or LocalLedger(
            None if max_cost is None else to_nanos(max_cost, "max_cost")
        )
        self._spent = 0
        self._refused = False
        self._lock = threading.Lock()

    @property
    def blocking(self) -> bool:
        return self.ledger.blocking

    @property
    def spent(self) -> float:
        with self._lock:
            return to_usd(self._spent)

    @property
    def exhausted(self) -> bool:
        """Whether a paid call was refused here: no further row should start. (A spent cap
        alone does not stop rows: their answers may be cached, which is free.)"""
        return self._refused

    def reserve(self, reservation: Reservation, price: float) -> None:
        """Reserve ``price`` more for ``reservation``'s call, or raise :class:`BudgetExceeded`
        (the call must not be made). A free call reserves nothing."""
        amount = to_nanos(price, f"{reservation.provider}: the price of a call")
        if amount == 0:
            return
        if not self.ledger.reserve(amount):
            self._refused = True
            assert self.max_cost is not None  # an uncapped ledger never refuses
            raise BudgetExceeded(
                f"budget reached: one {reservation.provider} call may cost ${price:.4f}, more "
                f"than what is left of max_cost ${self.max_cost:.4f}; not called",
                provider=reservation.provider,
            )
        reservation.amount += amount

    def settle(self, reservation: Reservation, cost: float) -> None:
        """Close ``reservation`` at ``cost`` (checked by the caller with :func:`to_nanos`)."""
        amount = to_nanos(cost, f"{reservation.provider}: the cost of a call")
        if reservation.amount or amount:  # a free call with nothing reserved changes nothing
            self.ledger.settle(reservation.amount, amount)
        with self._lock:
            self._spent += amount
        reservation.amount = 0


def record_spend(cost: float) -> None:
    """Add a settled cost to the current :class:`Meter`, if any."""
    meter = _METER.get()
    if meter is not None:
        meter.add(cost)
