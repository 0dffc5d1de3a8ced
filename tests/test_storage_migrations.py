"""Upgrading a database written by the previous layout."""

from __future__ import annotations

from alko_desk.storage.clients_repo import ClientKeyRepository, LookupRepository
from alko_desk.storage.schema import _m3_flat_keys_and_lookups


def test_keys_and_lookups_leave_their_partitions_and_stay_readable(store):
    if not store.partitioned:
        return  # MongoDB always kept them in one collection
    store.db["client_keys.ab"].insert_one({"_id": "c1ab", "wrapped": b"key one"})
    store.db["client_keys.cd"].insert_one({"_id": "c2cd", "wrapped": b"key two"})
    store.db["client_lookups.9f"].insert_one({"_id": "email:9f00", "ids": ["c1ab"]})
    _m3_flat_keys_and_lookups(store)
    _m3_flat_keys_and_lookups(store)  # a second run (two desks upgrading) changes nothing
    assert not [n for n in store.db.list_collection_names() if "." in n]
    keys, lookups = ClientKeyRepository(store), LookupRepository(store)
    assert keys.get("c1ab") == b"key one" and keys.get("c2cd") == b"key two"
    assert lookups.find("email:9f00") == ["c1ab"]
    lookups.add_many([("email:9f00", "c3ef"), ("phone:11", "c3ef")])
    assert lookups.find("email:9f00") == ["c1ab", "c3ef"] and lookups.find("phone:11") == ["c3ef"]
