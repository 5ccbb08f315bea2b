"""A run's spending cap, checked before every paid call and before launching rows."""

from __future__ import annotations

import threading

from lead_pipeline.providers.errors import BudgetExceeded


class Budget:
    """Money spent so far against ``max_cost`` (None: no cap, spending is still summed).

    Thread-safe because the engine may charge it from several event loops.
    """

    def __init__(self, max_cost: float | None = None, spent: float = 0.0) -> None:
        if max_cost is not None and max_cost < 0:
            raise ValueError("max_cost must be non-negative")
        self.max_cost = max_cost
        self._spent = spent
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    @property
    def remaining(self) -> float | None:
        return None if self.max_cost is None else max(0.0, self.max_cost - self.spent)

    @property
    def exhausted(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost

    def charge(self, cost: float) -> None:
        if cost < 0:
            raise ValueError("cost must be non-negative")
        with self._lock:
            self._spent += cost

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` once the cap is reached."""
        if self.exhausted:
            raise BudgetExceeded(
                f"budget exhausted: spent ${self.spent:.4f} of max_cost ${self.max_cost:.4f}"
            )
