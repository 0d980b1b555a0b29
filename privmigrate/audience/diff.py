"""Member sets as sorted arrays of binary digests, and the add/remove diff between two.

A set is a sorted, duplicate-free numpy array of ``V16`` (MD5) or ``V32`` (SHA-256) items:
compact (5 million SHA-256 ids are 160 MB), and numpy's set operations on it are fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def as_set(digests: np.ndarray) -> np.ndarray:
    """(n, size) uint8 digests → a sorted unique ``V<size>`` array."""
    size = digests.shape[1]
    return np.unique(np.ascontiguousarray(digests).view(f"V{size}").ravel())


def as_rows(members: np.ndarray) -> np.ndarray:
    """A ``V<size>`` set → (n, size) uint8 digests (no copy)."""
    size = members.dtype.itemsize
    return np.ascontiguousarray(members).view(np.uint8).reshape(len(members), size)


def empty_set(size: int) -> np.ndarray:
    return np.empty(0, dtype=f"V{size}")


@dataclass(frozen=True)
class AudienceDiff:
    """What to upload so the platform holds ``target`` instead of ``held``."""

    add: np.ndarray
    remove: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.add) == 0 and len(self.remove) == 0


def diff(target: np.ndarray, held: np.ndarray) -> AudienceDiff:
    """The add and remove sets that turn ``held`` into ``target`` (both sorted unique)."""
    if target.dtype != held.dtype:
        raise ValueError("cannot compare sets of different id types")
    return AudienceDiff(
        add=np.setdiff1d(target, held, assume_unique=True),
        remove=np.setdiff1d(held, target, assume_unique=True),
    )


def apply(held: np.ndarray, add: np.ndarray, remove: np.ndarray) -> np.ndarray:
    """``held`` − ``remove`` ∪ ``add``, sorted unique."""
    kept = np.setdiff1d(held, remove, assume_unique=True) if len(remove) else held
    if len(add) == 0:
        return kept
    return np.union1d(kept, add)
