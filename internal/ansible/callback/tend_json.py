# tend_json: an ansible-core stdout callback that prints one JSON document of
# the same shape as tend's report.Report (internal/report/report.go): plays,
# each with its per-host task results (loops carry their items), and the
# per-host recap. tend's differential tests run ansible-playbook with it and
# compare the document with `tend playbook -o json`.
#
# Use: ANSIBLE_CALLBACK_PLUGINS=<this dir> ANSIBLE_STDOUT_CALLBACK=tend_json
#
# tend's ansible backend (internal/ansible) embeds this file. It sets
# TEND_JSON_EVENTS_FD to a pipe's descriptor: the callback then writes one
# JSON object per line to it as the run goes (play_start, task_start, result,
# stats) instead of printing the document at the end, so tend can stream
# the results to its own text and JSON printers.
# Written against the CallbackBase v2 API of ansible-core 2.14 (Debian 12).

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
    name: tend_json
    type: stdout
    short_description: one JSON document shaped like tend's report.Report
    description:
      - Prints, at the end of the run, every task result per host and the recap
        as one JSON document (plays[].tasks[], stats{}), for tend's tests.
'''

import datetime
import json
import os
import sys

from ansible import context
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(t):
    return t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"

# Task arguments that name the managed thing (for drift resources). Only
# literal strings are sent: an argument that is still a template is not.
RESOURCE_ARGS = ('path', 'dest', 'name', 'pkg', 'unit', 'service', 'src')


def _diff_text(v):
    if v is None:
        return ''
    if isinstance(v, (dict, list)):
        # as Ansible's default callback shows structured before/after
        return json.dumps(v, sort_keys=True, indent=4, separators=(',', ': ')) + '\n'
    return v if isinstance(v, str) else str(v)


def _diffs(res):
    d = res.get('diff')
    if not d:
        return []
    if isinstance(d, dict):
        d = [d]
    out = []
    for x in d:
        if not isinstance(x, dict):
            continue
        e = {}
        if 'prepared' in x:
            e = {'before': '', 'after': _diff_text(x['prepared']), 'after_header': 'prepared'}
        elif 'before' in x or 'after' in x:
            e = {'before': _diff_text(x.get('before')), 'after': _diff_text(x.get('after'))}
            if x.get('before_header'):
                e['before_header'] = str(x['before_header'])
            if x.get('after_header'):
                e['after_header'] = str(x['after_header'])
        if e and e['before'] != e['after']:
            out.append(e)
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'tend_json'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self._start = _now()
        self._plays = []
        self._play = None
        self._items = {}    # (host, task uuid) -> [item results]
        self._starts = {}   # (host, task uuid) -> start time
        self._check = False
        self._events = None
        fd = os.environ.get('TEND_JSON_EVENTS_FD')
        if fd:
            self._events = os.fdopen(int(fd), 'w', buffering=1, encoding='utf-8')

    def _emit(self, event, **kw):
        kw['event'] = event
        self._events.write(json.dumps(kw, default=str) + '\n')

    # --- plays and tasks -------------------------------------------------

    def v2_playbook_on_play_start(self, play):
        hosts = play.hosts
        if isinstance(hosts, str):
            hosts = [h.strip() for h in hosts.split(',') if h.strip()]
        self._play = {'name': play.get_name().strip(), 'hosts': list(hosts or []), 'tasks': []}
        self._plays.append(self._play)
        self._check = bool(context.CLIARGS.get('check', False))
        if self._events is not None:
            self._emit('play_start', name=self._play['name'], hosts=self._play['hosts'])

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self._events is not None:
            self._emit('task_start', name=task.get_name().strip(), handler=False)

    def v2_playbook_on_handler_task_start(self, task):
        if self._events is not None:
            self._emit('task_start', name=task.get_name().strip(), handler=True)

    def v2_runner_on_start(self, host, task):
        self._starts[(host.get_name(), task._uuid)] = _now()

    # --- results ---------------------------------------------------------

    def _base(self, result, status):
        task = result._task
        host = result._host.get_name()
        res = result._result
        role = ''
        if getattr(task, '_role', None):
            role = task._role.get_name(include_role_fqcn=False)
        name = task.name.strip() if task.name else task.action
        changed = bool(res.get('changed', False))
        if status == 'ok' and changed:
            status = 'changed'
        d = {
            'host': host,
            'play': self._play['name'] if self._play else '',
            'task': name,
            'action': task.action,
            'status': status,
            'changed': changed,
        }
        if role:
            d['role'] = role
        if isinstance(task, Handler):
            d['handler'] = True
        msg = res.get('msg')
        if msg and not res.get('_ansible_no_log'):
            d['msg'] = msg if isinstance(msg, str) else json.dumps(msg, default=str)
        no_log = bool(res.get('_ansible_no_log') or getattr(task, 'no_log', False) or 'censored' in res)
        if no_log:
            d['no_log'] = True
            if status == 'failed':
                d['msg'] = CENSORED
        if self._events is not None:
            self._extend(d, task, res, no_log)
        return d

    def _extend(self, d, task, res, no_log):
        # the fields tend's backend reads besides the harness's ones
        try:
            d['position'] = task.get_path() or ''
        except Exception:
            pass
        args = {}
        for k in RESOURCE_ARGS:
            v = (task.args or {}).get(k)
            if isinstance(v, str) and '{{' not in v and '{%' not in v:
                args[k] = v
        if args:
            d['args'] = args
        if no_log:
            d['values'] = {'censored': CENSORED, 'changed': d['changed']}
            return
        diffs = _diffs(res)
        if diffs:
            d['diff'] = diffs
        warns = [str(w) for w in (res.get('warnings') or [])]
        for dep in res.get('deprecations') or []:
            if isinstance(dep, dict):
                warns.append('[DEPRECATION WARNING]: ' + str(dep.get('msg', '')))
        if warns:
            d['warnings'] = warns
        values = {}
        for k, v in res.items():
            if k.startswith('_ansible') or k in ('diff', 'warnings', 'deprecations', 'ansible_facts'):
                continue
            values[k] = v
        d['values'] = values  # _emit encodes it (default=str for the odd type)

    def _record(self, result, status, ignored=False):
        d = self._base(result, status)
        key = (d['host'], result._task._uuid)
        if ignored:
            d['ignored'] = True
        items = self._items.pop(key, None)
        if items is not None:
            d['items'] = items
        start = self._starts.pop(key, None) or _now()
        d['start'] = _iso(start)
        d['duration_seconds'] = (_now() - start).total_seconds()
        if self._play is None:
            self._play = {'name': '', 'hosts': [], 'tasks': []}
            self._plays.append(self._play)
        self._play['tasks'].append(d)
        if self._events is not None:
            self._emit('result', result=d)

    def _record_item(self, result, status):
        d = self._base(result, status)
        res = result._result
        if d.get('no_log'):
            d['item'] = '(censored due to no_log)'
        else:
            label = res.get('_ansible_item_label', res.get(res.get('ansible_loop_var', 'item')))
            d['item'] = json.loads(json.dumps(label, default=str))
        self._items.setdefault((d['host'], result._task._uuid), []).append(d)

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed', ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        # ignore_unreachable: Ansible counts the host ok and ignored
        self._record(result, 'unreachable', ignored=bool(result._task.ignore_unreachable))

    def v2_runner_item_on_ok(self, result):
        self._record_item(result, 'ok')

    def v2_runner_item_on_failed(self, result):
        self._record_item(result, 'failed')

    def v2_runner_item_on_skipped(self, result):
        self._record_item(result, 'skipped')

    # --- the end ---------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            recap[host] = {
                'ok': s['ok'],
                'changed': s['changed'],
                'unreachable': s['unreachable'],
                'failed': s['failures'],
                'skipped': s['skipped'],
                'rescued': s['rescued'],
                'ignored': s['ignored'],
            }
        doc = {
            'plays': self._plays,
            'stats': recap,
            'check_mode': self._check,
            'start': _iso(self._start),
            'end': _iso(_now()),
        }
        if self._events is not None:
            del doc['plays']  # already sent, one result at a time
            self._emit('stats', report=doc)
            self._events.close()
            return
        sys.stdout.write(json.dumps(doc, default=str, indent=1) + '\n')
        sys.stdout.flush()
