"""What a screening searcher has seen: programs by structure and, given the study's fingerprint, by function.

Guided evolution rejects a candidate that repeats a known program before asking
its predictor: the study would dedupe it for free, but in a domain that trains a
padded batch its slot would be paid for and wasted. Structure is the structural
hash (free); function is the study's own fingerprint (the domain's fixed
inputs), so what is rejected here is what the study would have deduped.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from discolab.graph import Program, SearchSpace, decode, structural_hash
from discolab.search.base import Fingerprint

#: Fingerprints kept in memory (program JSON -> function hash) before the cache starts over.
FINGERPRINT_CACHE = 65536


@functools.lru_cache(maxsize=8192)
def decoded(program_json: str) -> Program:
    """A program from its JSON, memoized (parents and archive members recur)."""
    return decode(program_json)


@functools.lru_cache(maxsize=65536)
def _structural_hash(space: SearchSpace, program_json: str) -> str:
    return structural_hash(decoded(program_json), space)


class Functions:
    """The study's fingerprint of programs by JSON: a pure function, so memoized; missing ones in one call."""

    def __init__(self, fingerprint: Fingerprint):
        self.fingerprint = fingerprint
        self._cache: dict[str, str] = {}

    def __call__(self, program_jsons: Sequence[str]) -> list[str]:
        cache = self._cache
        missing = list(dict.fromkeys(j for j in program_jsons if j not in cache))
        found = dict(zip(missing, self.fingerprint([decoded(j) for j in missing]))) if missing else {}
        out = [found[j] if j in found else cache[j] for j in program_jsons]
        if len(cache) + len(found) > FINGERPRINT_CACHE:
            cache.clear()
        cache.update(found)
        return out


class Seen:
    """Structural hashes and (with ``functions``) fingerprints of known programs; grows with :meth:`add`."""

    def __init__(self, space: SearchSpace, program_jsons: Sequence[str], functions: Functions | None = None):
        self.space = space
        self.functions = functions
        self.hashes = {self._hash(j) for j in program_jsons}
        self.fingerprints = set(functions(program_jsons)) if functions is not None else None

    def _hash(self, program_json: str) -> str:
        return _structural_hash(self.space, program_json)

    def add(self, program: Program) -> None:
        self.hashes.add(self._hash(program.to_json()))
        if self.functions is not None and self.fingerprints is not None:
            self.fingerprints.update(self.functions([program.to_json()]))

    def repeats(self, program: Program) -> bool:
        """Whether ``program`` is known, by structure or by function."""
        if self._hash(program.to_json()) in self.hashes:
            return True
        return self.functions is not None and self.functions([program.to_json()])[0] in self.fingerprints

    def mask(self, candidates: Sequence[Program], currents: Sequence[Program]) -> list[bool]:
        """Whether each candidate repeats a known program or its current one: by structure, then, for
        the rest, by function (one fingerprint call for the batch)."""
        seen = [self._hash(c.to_json()) in self.hashes or self._hash(c.to_json()) == self._hash(p.to_json())
                for c, p in zip(candidates, currents)]
        if self.functions is not None:
            fresh = [k for k, old in enumerate(seen) if not old]
            fps = self.functions([q.to_json() for k in fresh for q in (candidates[k], currents[k])])
            for i, k in enumerate(fresh):
                seen[k] = fps[2 * i] in self.fingerprints or fps[2 * i] == fps[2 * i + 1]
        return seen
