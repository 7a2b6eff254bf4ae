"""A HyperLogLog sketch: how many distinct readers clicked, without keeping who.

Each reader tag is hashed to 64 bits; the first 10 bits pick one of 1,024 registers, which
keeps the longest run of leading zeros (plus one) seen in the other 54. The registers are
all that is stored (1 KB per link), and they cannot say whether a given reader is among
those counted. The estimate (Flajolet et al. 2007, with linear counting for small numbers)
is within 1 or 2 of the truth up to a few dozen readers and about 3% beyond.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

BITS = 10
REGISTERS = 1 << BITS
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


@dataclass
class Sketch:
    registers: bytearray

    @classmethod
    def empty(cls) -> Sketch:
        return cls(bytearray(REGISTERS))

    def add(self, tag: str) -> None:
        value = int.from_bytes(hashlib.blake2b(tag.encode(), digest_size=8).digest(), "big")
        index = value >> (64 - BITS)
        rest = value & ((1 << (64 - BITS)) - 1)
        rank = (64 - BITS) - rest.bit_length() + 1
        if rank > self.registers[index]:
            self.registers[index] = rank

    def merge(self, other: Sketch) -> None:
        for index, rank in enumerate(other.registers):
            if rank > self.registers[index]:
                self.registers[index] = rank

    def estimate(self) -> int:
        zeros = self.registers.count(0)
        raw = _ALPHA * REGISTERS * REGISTERS / sum(2.0**-rank for rank in self.registers)
        if raw <= 2.5 * REGISTERS and zeros:
            return round(REGISTERS * math.log(REGISTERS / zeros))
        return round(raw)
