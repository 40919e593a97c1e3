#!/usr/bin/env python3
"""Checks transparency-log proofs the way an outside auditor would.

Written from RFC 9162 itself (section 2.1.3.2, verifying an inclusion proof; section 2.1.4.2,
verifying consistency between two tree heads), with SM3 as the hash, and from docs/audit.md for
the entry and tree-head formats; it shares no code with the C++ that made the proofs.

Usage: rfc9162_verify.py FILE

FILE is JSON as fetched from the HTTP API:
  {"tree_heads": [<GET /api/v1/audit/tree-head>, ...],
   "inclusion": [{"entry": <GET /api/v1/audit/entries/{i}>,
                  "proof": <GET /api/v1/audit/proofs/inclusion?index=i&tree_size=n>}, ...],
   "consistency": [<GET /api/v1/audit/proofs/consistency?first=m&second=n>, ...]}
Each proof is checked against the tree head of its tree size in "tree_heads".

Exit status: 0 when everything verifies, 1 when something does not (each failure is printed),
2 when the file cannot be read.
"""

import hashlib
import json
import sys


def sm3(data):
    return hashlib.new("sm3", data).digest()


def node(left, right):
    # RFC 9162 section 2.1.1: interior nodes are HASH(0x01 || left || right).
    return sm3(b"\x01" + left + right)


def leaf(entry_bytes):
    # RFC 9162 section 2.1.1: leaves are HASH(0x00 || entry).
    return sm3(b"\x00" + entry_bytes)


def lsb(number):
    return number & 1


def verify_inclusion(leaf_index, tree_size, leaf_hash, inclusion_path, root_hash):
    """RFC 9162 section 2.1.3.2, step by step."""
    # 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to
    #    tree_size, then fail the proof verification.
    if leaf_index >= tree_size or leaf_index < 0:
        return False
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn, sn = leaf_index, tree_size - 1
    # 3. Set r to hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in inclusion_path:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn) or fn == sn:
            # 1. Set r to HASH(0x01 || p || r).
            r = node(p, r)
            # 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #    LSB(fn) is set or fn is 0.
            if not lsb(fn):
                while not lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise: Set r to HASH(0x01 || r || p).
        else:
            r = node(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
    #    root_hash are equal, then the log has proven the inclusion of hash.
    return sn == 0 and r == root_hash


def verify_consistency(first, second, first_hash, second_hash, consistency_path):
    """RFC 9162 section 2.1.4.2, step by step (first == second: an empty proof, equal roots)."""
    if first == second:
        return len(consistency_path) == 0 and first_hash == second_hash
    if not 0 < first < second:
        return False
    path = list(consistency_path)
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not path:
        return False
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = first - 1, second - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while lsb(fn):
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn) or fn == sn:
            # 1. Set fr to HASH(0x01 || c || fr).  2. Set sr to HASH(0x01 || c || sr).
            fr = node(c, fr)
            sr = node(c, sr)
            # 3. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #    LSB(fn) is set or fn is 0.
            if not lsb(fn):
                while not lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise: Set sr to HASH(0x01 || sr || c).
        else:
            sr = node(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Verify that fr equals first_hash, that sr equals second_hash, and that sn is 0.
    return fr == first_hash and sr == second_hash and sn == 0


def canonical(value):
    # docs/audit.md: sorted keys, no whitespace, UTF-8, integers only.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: rfc9162_verify.py FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            document = json.load(handle)
        roots = {}
        failures = []

        for head in document["tree_heads"]:
            size = head["tree_size"]
            root = bytes.fromhex(head["root_hash"])
            # The signature covers signed_message; it must say what the fields say.
            signed = json.loads(head["signed_message"])
            if canonical(signed) != head["signed_message"].encode("utf-8"):
                failures.append("tree head %d: signed_message is not canonical JSON" % size)
            if (signed.get("kind") != "onewindow.audit.tree_head.v1" or signed.get("tree_size") != size
                    or signed.get("root_hash") != head["root_hash"] or signed.get("timestamp") != head["timestamp"]):
                failures.append("tree head %d: signed_message differs from the tree head's fields" % size)
            roots[size] = root

        checked = 0
        for item in document.get("inclusion", []):
            entry, proof = item["entry"], item["proof"]
            index, size = proof["index"], proof["tree_size"]
            content = entry["content"].encode("utf-8")
            leaf_hash = leaf(content)
            name = "entry %d in tree %d" % (index, size)
            if leaf_hash.hex() != entry["leaf_hash"]:
                failures.append(name + ": the leaf hash served is not the hash of the content")
            if canonical(json.loads(content)) != content:
                failures.append(name + ": the content is not canonical JSON")
            if json.loads(content).get("index") != index:
                failures.append(name + ": the content names another index")
            if size not in roots:
                failures.append(name + ": no tree head of that size was given")
                continue
            path = [bytes.fromhex(p) for p in proof["audit_path"]]
            if not verify_inclusion(index, size, leaf_hash, path, roots[size]):
                failures.append(name + ": the inclusion proof does not verify")
            checked += 1

        for proof in document.get("consistency", []):
            first, second = proof["first"], proof["second"]
            name = "consistency %d -> %d" % (first, second)
            if first not in roots or second not in roots:
                failures.append(name + ": a tree head of those sizes was not given")
                continue
            path = [bytes.fromhex(p) for p in proof["consistency_path"]]
            if not verify_consistency(first, second, roots[first], roots[second], path):
                failures.append(name + ": the consistency proof does not verify")
            checked += 1
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print("rfc9162_verify: cannot read %s: %s" % (argv[1], error), file=sys.stderr)
        return 2

    for failure in failures:
        print("FAILED: " + failure)
    if failures:
        return 1
    print("ok: %d proofs verify" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
