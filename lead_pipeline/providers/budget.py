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

A reservation that does not fit only because other calls in flight hold reservations
(they may settle lower: a "no match" is free) is not a spent cap: the call is
:class:`BudgetHeld` and waits (``CallPolicy``) for those calls to settle, then asks
again. It is refused for good (:class:`BudgetExceeded`) only when what is spent, and
what this call itself holds, leave no room, or when nothing in the ledger has moved
for :data:`HOLD_S` seconds (a reservation of a process that died never settles).

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

from lead_pipeline.providers.errors import BudgetExceeded, BudgetHeld

NANOS_PER_USD = 1_000_000_000
# How long a call held by others' reservations waits with nothing in the ledger moving
# before it is refused: longer than a call in flight takes to end (its timeouts, retries
# and Retry-After waits), so only a reservation that will never settle outlasts it.
HOLD_S = 180.0
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

    def totals(self) -> tuple[int | None, int, int]:
        """The cap (None: none), the reserved sum and the spent sum, as they are now."""
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

    def totals(self) -> tuple[int | None, int, int]:
        with self._lock:
            return self.cap, self.reserved, self.spent


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
        self.hold_s = HOLD_S
        self.waits = 0  # calls that waited for others in flight to settle (this process)

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
            assert self.max_cost is not None  # an uncapped ledger never refuses
            cap, reserved, spent = self.ledger.totals()
            if cap is not None and spent + reservation.amount + amount <= cap:
                # Room once the others' reservations settle: wait for them, not refuse.
                raise BudgetHeld(
                    f"budget held: one {reservation.provider} call may cost ${price:.4f}; "
                    f"${to_usd(reserved - reservation.amount):.4f} is reserved by calls in "
                    "flight, which may settle lower",
                    provider=reservation.provider,
                    state=(reserved, spent),
                )
            self.refuse(reservation.provider, price)
        reservation.amount += amount

    def refuse(self, provider: str, price: float, why: str = "") -> None:
        """Raise :class:`BudgetExceeded` for a call of ``provider`` at ``price``; no further
        row should start."""
        self._refused = True
        assert self.max_cost is not None
        raise BudgetExceeded(
            f"budget reached: one {provider} call may cost ${price:.4f}, more than what is "
            f"left of max_cost ${self.max_cost:.4f}{why}; not called",
            provider=provider,
        )

    def waited(self) -> None:
        with self._lock:
            self.waits += 1

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
