"""Base-36 thing ids: sequential, as Reddit's used to be, or random, as its comment ids are becoming.

A random id is a keyed permutation of the sequential number (a Feistel network over ``2 * HALF``
bits, cycle-walked down to ``bits``), so it is unique, looks random, is not ordered by creation,
and still decodes back to its number: the world finds a comment's post from the id alone either way.
"""

from __future__ import annotations

import hashlib

from . import textgen

ROUNDS = 4


class IdScheme:
    def __init__(self, base: int, bits: int, *, random: bool, seed: int, label: str) -> None:
        self.base, self.bits, self.random = base, bits, random
        self.half = (bits + 1) // 2
        self._mask = (1 << self.half) - 1
        digest = hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=8 * ROUNDS).digest()
        self._keys = [int.from_bytes(digest[8 * i : 8 * i + 8], "big") for i in range(ROUNDS)]

    def id(self, number: int) -> str:
        if not 0 <= number < 1 << self.bits:
            raise ValueError(f"id number {number} is outside 0..2**{self.bits}")
        value = number
        if self.random:
            value = self._permute(value)
            while value >= 1 << self.bits:  # cycle-walk: stays a permutation of [0, 2**bits)
                value = self._permute(value)
        return textgen.to_base36(self.base + value)

    def number(self, ident: str) -> int | None:
        """The number behind an id, or None if the id cannot be one of ours."""
        try:
            value = int(ident, 36) - self.base
        except ValueError:
            return None
        if not 0 <= value < 1 << self.bits:
            return None
        if self.random:
            value = self._unpermute(value)
            while value >= 1 << self.bits:
                value = self._unpermute(value)
        return value

    def _round(self, i: int, half: int) -> int:
        x = (half * 0x9E3779B97F4A7C15 + self._keys[i]) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        return (x ^ (x >> 32)) & self._mask

    def _permute(self, value: int) -> int:
        left, right = value >> self.half, value & self._mask
        for i in range(ROUNDS):
            left, right = right, left ^ self._round(i, right)
        return (left << self.half) | right

    def _unpermute(self, value: int) -> int:
        left, right = value >> self.half, value & self._mask
        for i in reversed(range(ROUNDS)):
            left, right = right ^ self._round(i, left), left
        return (left << self.half) | right
