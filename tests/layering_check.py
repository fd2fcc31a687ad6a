#!/usr/bin/env python3
"""Checks that fls's layers depend only downward (docs/ARCHITECTURE.md).

    layering_check.py SOURCE_DIR LINK_GRAPH      check the tree and the link graph
    layering_check.py --self-test                show that a violation is caught

Layers, bottom up; a layer may use its own files and what lies below it:
    engine   host/engine/
    fallback fallback/                (peer of cuda: neither uses the other)
    cuda     host/cuda/, kernels/
    backends host/backends/
    archive  host/archive/
    service  service/
    cli      host/cli/, bench/

Include rules for product code (tests/ and fuzz/ may reach anything):
  * "fls/..." is a public header (include/fls/); it belongs to a layer (the
    table below) and may be included only from that layer or one above;
  * any other quoted include must name a file of the includer's own layer;
  * public headers include only public headers of their layer or below.
Link rule: each library of LINK_GRAPH (written by CMake at configure time)
links only libraries of lower layers, and the graph has no cycle.
"""
import os
import re
import shutil
import sys
import tempfile

LAYERS = {  # layer: (rank, folders)
    'engine': (0, ['host/engine']),
    'fallback': (1, ['fallback']),
    'cuda': (1, ['host/cuda', 'kernels']),
    'backends': (2, ['host/backends']),
    'archive': (3, ['host/archive']),
    'service': (4, ['service']),
    'cli': (5, ['host/cli', 'bench']),
}
TARGETS = {'fls_engine': 'engine', 'fls_fallback': 'fallback', 'fls_cuda': 'cuda',
           'fls_backends': 'backends', 'fls_archive': 'archive', 'fls_service': 'service',
           'fls': 'cli'}
# Public headers (include/fls/...) by layer; a header not listed is an error,
# so a new public header must be placed in a layer on purpose.
PUBLIC = {
    'engine': ['status', 'gf256', 'matrix', 'codec', 'backend', 'crc32c', 'thread_pool',
               'byte_size', 'batching_backend', 'backend_entries'],
    'backends': ['backend_registry'],
    'archive': ['env', 'fault_injection_env', 'geometry', 'chunk_format', 'manifest', 'store',
                'archive', 'rebalance', 'sweep', 'sha256', 'health_db', 'sqlite_util',
                'unreferenced', 'pack', 'json_int', 'upgrade', 'object_stream',
                'space_report', 'time_text', 'delete', 'compact'],
    'service': ['service/' + n for n in
                ['client', 'config', 'protocol', 'jobs', 'service', 'job_executor', 'zmq_util',
                 'worker']],
}
SOURCE_EXT = ('.h', '.cc', '.cu', '.cuh')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def rank(layer):
    return LAYERS[layer][0]


def layer_of_path(rel):
    for name, (_, folders) in LAYERS.items():
        for f in folders:
            if rel.startswith(f + '/'):
                return name
    return None


def public_layer(header):
    stem = header[len('fls/'):]
    stem = stem[:stem.rfind('.')] if '.' in stem else stem
    for layer, names in PUBLIC.items():
        if stem in names:
            return layer
    return None


def may_use(user, used):
    """A layer uses its own files and lower ranks; peers of one rank never."""
    return user == used or rank(used) < rank(user)


def check_includes(root):
    errors = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(SOURCE_EXT):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel.startswith('include/fls/'):
                user = public_layer(rel[len('include/'):])
                if user is None:
                    errors.append(f'{rel}: public header not assigned to a layer '
                                  '(tests/layering_check.py PUBLIC)')
                    continue
            else:
                user = layer_of_path(rel)
                if user is None:
                    continue  # tests/, fuzz/, tools
            if rel == 'bench/cuda_bandwidth.cu':
                continue  # a measuring tool of the cuda layer, built on its own
            with open(path, encoding='utf-8', errors='replace') as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                if inc.startswith('fls/'):
                    used = public_layer(inc)
                    if used is None:
                        errors.append(f'{rel}: includes "{inc}", which is no public header')
                    elif not may_use(user, used):
                        errors.append(f'{rel} ({user}) includes "{inc}" of layer {used}: '
                                      'upward or sideways')
                    continue
                if rel.startswith('include/'):
                    errors.append(f'{rel}: public header includes non-public "{inc}"')
                    continue
                # Relative to the includer, then to the layer's folders (the
                # cuda layer's include path holds kernels/), then to the root.
                bases = [os.path.dirname(rel)] + LAYERS[user][1]
                target = next((os.path.normpath(os.path.join(b, inc)) for b in bases
                               if os.path.exists(os.path.join(root, b, inc))), inc)
                used = layer_of_path(target)
                if '..' in inc.split('/'):
                    errors.append(f'{rel}: includes "{inc}" through ".."')
                elif used != user:
                    errors.append(f'{rel} ({user}) includes "{inc}", a header internal to '
                                  f'{used or "no layer"}')
    return errors


def check_links(graph_file):
    errors = []
    edges = {}
    with open(graph_file) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            edges[parts[0]] = [p for p in parts[1:] if p in TARGETS]
    for t in TARGETS:
        if t not in edges:
            errors.append(f'{graph_file}: no entry for {t}')
    for t, deps in edges.items():
        for d in deps:
            if not (rank(TARGETS[d]) < rank(TARGETS[t])):
                errors.append(f'{t} ({TARGETS[t]}) links {d} ({TARGETS[d]}): not a lower layer')
    # A cycle is also caught by the rank rule; walk anyway so the message names it.
    state = {}

    def visit(n, stack):
        state[n] = 1
        for d in edges.get(n, []):
            if state.get(d) == 1:
                errors.append('link cycle: ' + ' -> '.join(stack + [n, d]))
            elif d not in state:
                visit(d, stack + [n])
        state[n] = 2

    for n in edges:
        if n not in state:
            visit(n, [])
    return errors


def self_test():
    """Plants violations in a scratch tree: each must be reported."""
    tmp = tempfile.mkdtemp()
    try:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), 'w') as f:
                f.write(text)
        write('include/fls/status.h', '#pragma once\n')
        write('include/fls/store.h', '#include "fls/status.h"\n')
        write('host/engine/codec.cc', '#include "fls/store.h"\n')           # upward
        write('host/archive/object_io.h', '#pragma once\n')
        write('service/broker.cc', '#include "host/archive/object_io.h"\n')  # internal
        write('fallback/isal.cc', '#include "host/cuda/x.h"\n')             # sideways
        write('host/cuda/x.h', '#pragma once\n')
        write('graph.txt', 'fls_engine fls_archive\nfls_fallback fls_engine\nfls_cuda\n'
              'fls_backends\nfls_archive fls_engine\nfls_service\nfls\n')
        inc = check_includes(tmp)
        links = check_links(os.path.join(tmp, 'graph.txt'))
        want = ['codec.cc (engine) includes "fls/store.h"', 'broker.cc (service) includes',
                'isal.cc (fallback) includes', 'fls_engine (engine) links fls_archive',
                'link cycle']
        got = '\n'.join(inc + links)
        missing = [w for w in want if w not in got]
        if missing:
            print('self-test FAILED: not reported:', missing, '\nreported:\n' + got)
            return 1
        print(f'self-test passed: {len(inc) + len(links)} planted violations reported')
        return 0
    finally:
        shutil.rmtree(tmp)


def main(argv):
    if len(argv) == 2 and argv[1] == '--self-test':
        return self_test()
    if len(argv) != 3:
        print(__doc__)
        return 2
    errors = check_includes(argv[1]) + check_links(argv[2])
    for e in errors:
        print(e)
    print(f'layering: {len(errors)} violation(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
