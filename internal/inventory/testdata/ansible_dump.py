"""Dump what ansible-core computes for an inventory, for the differential test.

Usage: python3 ansible_dump.py PATTERNS_JSON SOURCE...
Prints JSON: {"hosts": [...], "vars": {host: vars}, "groups": {...},
"group_names": {host: [...]}, "patterns": {pattern: [hosts] or "error: ..."}}
"""
import json
import sys

from ansible import context
from ansible.module_utils.common.collections import ImmutableDict
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager

INTERNAL = {'ansible_diff_mode', 'ansible_config_file', 'ansible_facts', 'ansible_forks',
            'ansible_inventory_sources', 'ansible_limit', 'ansible_playbook_python',
            'ansible_run_tags', 'ansible_skip_tags', 'ansible_verbosity', 'ansible_version',
            'inventory_dir', 'inventory_file', 'inventory_hostname', 'inventory_hostname_short',
            'groups', 'group_names', 'omit', 'playbook_dir'}

context.CLIARGS = ImmutableDict({})
patterns = json.loads(sys.argv[1])
loader = DataLoader()
inv = InventoryManager(loader=loader, sources=sys.argv[2:])
vm = VariableManager(loader=loader, inventory=inv)
out = {"hosts": [h.name for h in inv.get_hosts("all")], "vars": {}, "group_names": {},
       "groups": inv.get_groups_dict(), "patterns": {}}
for name in inv.hosts:
    h = inv.get_host(name)
    v = vm.get_vars(host=h, include_hostvars=False, stage='all')
    out["vars"][name] = {k: v[k] for k in v if k not in INTERNAL}
    out["group_names"][name] = h.get_magic_vars()["group_names"]
for p in patterns:
    try:
        out["patterns"][p] = [h.name for h in inv.get_hosts(p)]
    except Exception as e:
        out["patterns"][p] = "error: %s" % e
print(json.dumps(out, default=str))
