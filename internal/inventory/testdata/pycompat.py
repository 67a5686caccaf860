"""Answers of ansible-core's helpers for inputs given as JSON on stdin.

Input: {"values": [...], "shlex": [...], "split": [...], "expand": [...]}
Output: the same keys, each a list of results ("error" on exceptions).
"""
import json
import sys

from ansible.plugins.inventory.ini import InventoryModule as Ini
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.inventory.manager import split_host_pattern
from ansible.utils.shlex import shlex_split

req = json.load(sys.stdin)
out = {"values": [], "shlex": [], "split": [], "expand": []}
for v in req["values"]:
    r = Ini._parse_value(v)
    if isinstance(r, (set, frozenset, tuple)):
        r = list(r)
    try:
        json.dumps(r)
    except Exception:
        r = "unserializable"
    out["values"].append(r)
for s in req["shlex"]:
    try:
        out["shlex"].append(shlex_split(s, comments=True))
    except Exception:
        out["shlex"].append("error")
for s in req["split"]:
    out["split"].append(split_host_pattern(s))
p = BaseInventoryPlugin()
for s in req["expand"]:
    try:
        hosts, port = p._expand_hostpattern(s)
        out["expand"].append([hosts, port or 0])
    except Exception:
        out["expand"].append("error")
print(json.dumps(out))
