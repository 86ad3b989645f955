"""Sector-map arithmetic: boundaries of a flash described as Mbed-style sector runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectorMap:
    """``runs``: (start, size) pairs in address order; sectors of ``size`` from ``start`` on."""

    runs: tuple[tuple[int, int], ...]
    end: int

    @property
    def start(self) -> int:
        return self.runs[0][0]

    def _run(self, address: int) -> tuple[int, int, int]:
        for i, (start, size) in enumerate(self.runs):
            run_end = self.runs[i + 1][0] if i + 1 < len(self.runs) else self.end
            if start <= address < run_end:
                return start, size, run_end
        raise ValueError(f"address {address:#x} is outside the sector map")

    def is_boundary(self, address: int) -> bool:
        if address == self.end:
            return True
        if not self.start <= address < self.end:
            return False
        start, size, _ = self._run(address)
        return (address - start) % size == 0

    def floor(self, address: int) -> int:
        """The last boundary at or below ``address`` (clamped to the map)."""
        if address >= self.end:
            return self.end
        if address <= self.start:
            return self.start
        start, size, _ = self._run(address)
        return start + (address - start) // size * size

    def ceil(self, address: int) -> int:
        """The first boundary at or above ``address`` (clamped to the map)."""
        below = self.floor(address)
        if below >= address or below >= self.end:
            return below
        _, size, run_end = self._run(below)
        return min(below + size, run_end)

    def sector_size_at(self, address: int) -> int:
        return self._run(min(max(address, self.start), self.end - 1))[1]
