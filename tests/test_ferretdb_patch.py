"""The project's FerretDB build answers `_id` lookups through its `_id` index.

Unpatched FerretDB 1.24.2 on SQLite scans the whole collection for every find,
update and delete by `_id` (scripts/ferretdb-patches/0001-*). On a 20,000-document
collection a scan costs tens of milliseconds and an index lookup about one, so the
lookups must be far cheaper than a filter on another field (which always scans).
"""

from __future__ import annotations

import statistics
import time

import pytest

DOCS = 20_000


def _median_ms(fn, keys) -> float:
    times = []
    for key in keys:
        start = time.perf_counter()
        fn(key)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def test_id_lookups_updates_and_deletes_use_the_id_index(store):
    if not store.info.is_ferretdb:
        pytest.skip("only FerretDB's SQLite backend had the scan")
    coll = store.collection("patch_check")
    pad = "x" * 200
    for start in range(0, DOCS, 5000):
        coll.insert_many(
            [{"_id": f"{n:024x}", "n": n, "pad": pad} for n in range(start, start + 5000)]
        )
    keys = [(n * 7919) % DOCS for n in range(15)]

    scan = _median_ms(lambda n: coll.find_one({"n": n}), keys)
    by_id = _median_ms(lambda n: coll.find_one({"_id": f"{n:024x}"}), keys)
    update = _median_ms(lambda n: coll.update_one({"_id": f"{n:024x}"}, {"$set": {"n": -n}}), keys)
    delete = _median_ms(lambda n: coll.delete_one({"_id": f"{n:024x}"}), keys)

    assert coll.find_one({"_id": f"{keys[1]:024x}"}) is None  # the deletes really happened
    assert coll.find_one({"_id": f"{(keys[1] + 1) % DOCS:024x}"}) is not None
    # A scan of 20,000 documents takes ≥ 20 ms on any machine; an indexed lookup ~1 ms.
    for name, ms in (("find_one", by_id), ("update_one", update), ("delete_one", delete)):
        assert ms * 8 < scan, f"{name} by _id took {ms:.1f} ms against a {scan:.1f} ms scan"
