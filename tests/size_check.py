#!/usr/bin/env python3
"""Checks the size limits of fls's product code (issue 15).

    size_check.py SOURCE_DIR [ALLOW_LIST]     check the tree
    size_check.py --self-test                 show that violations are caught

No source file over 500 lines and no function over 120 lines in host/,
service/, fallback/, kernels/ and include/ (bench/, tests/ and fuzz/ aside).

Functions: the code is clang-formatted, so a function defined at namespace
scope starts at column 0 and its body ends at the next line that is exactly
"}". Its length counts from the signature's first line (a "template <...>"
line included) to that brace. Comments, string and character literals and
raw strings are blanked first, so their text is never read as code, and
braces can be counted. Namespace and extern "C" blocks are entered;
class/struct/enum/union bodies and initialisers ("... = {") are skipped to
the brace that closes them. A body that closes on the signature's last line
("... : a_(a) {}") ends there. Member functions defined inside a class body
are indented and not measured here (compare with `python3 -m lizard`, below).

ALLOW_LIST (default tests/size_allow.txt): lines "PATH[:FUNCTION]  REASON"
for violations that are known and being fixed elsewhere. An entry whose item
no longer violates fails the check, so the list cannot go stale.

Cross-check: `python3 -m lizard -L 120 -w host service fallback kernels
include` lists functions longer than 120 lines by its own parser (give it
the .cu/.cuh files by name: its directory walk skips them). On the tree of
this check's commit both measure the same length for each of the 741
functions this check finds; lizard alone also reports 295 member functions
defined inside class bodies (the longest 108 lines), 26 Python functions
(service/python/) and `struct alignas(64) CrcFoldState` as a function.
"""
import os
import re
import sys
import tempfile

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 120
PRODUCT_DIRS = ['host', 'service', 'fallback', 'kernels', 'include']
SOURCE_EXT = ('.h', '.cc', '.cu', '.cuh', '.cpp', '.hpp')
TYPE_BLOCK = re.compile(r'^(template\s*<.*>\s*)?(class|struct|enum|union)\b')
# Attributes with parentheses that come before a function's name.
ATTRIBUTE = re.compile(r'\b(__launch_bounds__|__attribute__|alignas)\s*\((\([^()]*\)|[^()])*\)')
NAME = re.compile(r'([A-Za-z_~][\w:~<>]*(?:operator\s*\S+?)?)\s*\($')


def blank_literals(text):
    """Returns text with comments and literals replaced by spaces, newlines kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif c == 'R' and text.startswith('"', i + 1) and (i == 0 or not (
                text[i - 1].isalnum() or text[i - 1] == '_')):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(')' + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r'[^\n]', ' ', text[i + 2:j]))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(c + ' ' * max(0, j - i - 2) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def skip_block(lines, i):
    """Index of the line that closes the braces opened from line i on, or len."""
    depth, opened = 0, False
    while i < len(lines):
        depth += lines[i].count('{') - lines[i].count('}')
        opened = opened or '{' in lines[i]
        if opened and depth <= 0:
            return i
        i += 1
    return i


def skip_to(lines, i, closing):
    """Index of the first line from i that is `closing` (rstripped), or len."""
    while i < len(lines) and lines[i].rstrip() != closing:
        i += 1
    return i


def functions(text):
    """Yields (name, first line number, length) of namespace-scope functions."""
    lines = blank_literals(text).split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not line or line[0].isspace() or stripped.startswith('}') or stripped == '':
            i += 1
            continue
        if stripped.startswith('#'):  # preprocessor, with its continuation lines
            while i < len(lines) and lines[i].rstrip().endswith('\\'):
                i += 1
            i += 1
            continue
        if re.match(r'^(inline\s+)?namespace\b.*\{$', stripped) or \
                re.match(r'^extern\s+"\s*"\s*\{$', stripped):
            i += 1
            continue
        # A declaration or definition at column 0: gather it up to its end.
        start, sig = i, ''
        while i < len(lines):
            sig += ' ' + lines[i].strip()
            if re.search(r'[;{]\s*$', lines[i]) or re.search(r'\{.*\}\s*;?\s*$', lines[i]):
                break
            i += 1
        sig = sig.strip()
        if i >= len(lines):
            break
        bare = ATTRIBUTE.sub(' ', sig)
        head = bare[:bare.find('(')] if '(' in bare else bare
        # "operator=" and its kin are a name, not the "=" of an initialiser.
        if TYPE_BLOCK.match(sig) or '=' in re.sub(r'operator\s*[^\s(]*', '', head) or \
                '(' not in bare:
            # A type or an initialiser: skipped to the brace that closes it.
            i = (i if sig.endswith(';') else skip_block(lines, start)) + 1
            continue
        if sig.endswith(';'):  # a declaration
            i += 1
            continue
        m = NAME.search(head.rstrip() + '(')
        name = m.group(1) if m else head.split()[-1]
        if sig.endswith('}'):  # the body closes on the signature's last line
            yield (name, start + 1, i - start + 1)
            i += 1
            continue
        end = skip_to(lines, i + 1, '}')
        yield (name, start + 1, end - start + 1)
        i = end + 1


def source_files(root):
    for top in PRODUCT_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith(SOURCE_EXT):
                    path = os.path.join(dirpath, f)
                    yield os.path.relpath(path, root), path


def violations(root):
    """(item, where, what): item is PATH or PATH:FUNCTION."""
    found = []
    for rel, path in source_files(root):
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        n = text.count('\n') + (0 if text.endswith('\n') or not text else 1)
        if n > MAX_FILE_LINES:
            found.append((rel, rel, f'{n} lines (limit {MAX_FILE_LINES})'))
        for name, line, length in functions(text):
            if length > MAX_FUNCTION_LINES:
                found.append((f'{rel}:{name}', f'{rel}:{line}',
                              f'function {name} is {length} lines (limit {MAX_FUNCTION_LINES})'))
    return found


def read_allow_list(path):
    """{item: reason}; errors for malformed lines."""
    allowed, errors = {}, []
    if not os.path.exists(path):
        return allowed, errors
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                errors.append(f'{path}:{number}: "{line}" has no reason')
                continue
            allowed[parts[0]] = parts[1]
    return allowed, errors


def check(root, allow_path):
    """Returns the report lines that fail the check."""
    allowed, errors = read_allow_list(allow_path)
    seen = set()
    for item, where, what in violations(root):
        if item in allowed:
            seen.add(item)
            print(f'{where}: {what} (allowed: {allowed[item]})')
            continue
        errors.append(f'{where}: {what}')
    for item in allowed:
        if item not in seen:
            errors.append(f'{allow_path}: "{item}" no longer violates the limits: '
                          'remove it from the allow-list')
    return errors


def self_test():
    """Plants each kind of violation and non-violation; the check must agree."""
    body = '  int x = 0;\n' * 130
    cases = {
        'host/a/long_function.cc':
            '#include "x.h"\nnamespace fls {\n\n'
            'template <typename T>\n'
            'Status VeryLong(int a,\n                int b) {\n' + body + '}\n\n'
            '}  // namespace fls\n',
        'host/a/long_file.cc': '// filler\n' * 501,
        'service/types.cc':
            'namespace fls {\n'
            'struct Big {\n' + body + '};\n'
            'const int kTable[] = {\n' + '  1,\n' * 130 + '};\n'
            '}  // namespace fls\n',
        'service/ok.cc':
            'namespace fls {\n'
            'const char* kRaw = R"(\n}\nint Fake() {\n' + body + ')";\n'
            'int Short() {\n  return 1;\n}\n'
            'int OneLine() { return 2; }\n'
            'Thing::Thing(int a)\n    : a_(a) {}\n'
            'int Exactly120() {\n' + '  x;\n' * 118 + '}\n'
            '}  // namespace fls\n',
        # An initialiser closed on a line with other braces, then an
        # operator= : neither may hide the long function after them.
        'host/a/ops.cc':
            'constexpr Shape kShapes[] = {\n    {4, 1}, {8, 5}};\n'
            'Thing& Thing::operator=(Thing&& o) {\n' + body + '}\n'
            'int After() {\n' + body + '}\n',
        'bench/ignored.cc': 'int Long() {\n' + body + '}\n',
    }
    expected = {'host/a/long_function.cc:VeryLong': 'host/a/long_function.cc:4',
                'host/a/long_file.cc': 'host/a/long_file.cc',
                'host/a/ops.cc:Thing::operator=': 'host/a/ops.cc:3',
                'host/a/ops.cc:After': 'host/a/ops.cc:135'}
    failures = []
    with tempfile.TemporaryDirectory() as root:
        for rel, text in cases.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), 'w') as f:
                f.write(text)
        got = {item: where for item, where, _ in violations(root)}
        if got != expected:
            failures.append(f'violations {got}, expected {expected}')
        lengths = {name: length for name, _, length in
                   functions(open(os.path.join(root, 'service/ok.cc')).read())}
        if lengths.get('Exactly120') != 120 or lengths.get('Short') != 3 or \
                lengths.get('Thing::Thing') != 2 or 'Fake' in lengths:
            failures.append(f'function lengths in service/ok.cc: {lengths}')
        allow = os.path.join(root, 'allow.txt')
        with open(allow, 'w') as f:
            f.write('# known\nhost/a/long_file.cc  being split\n'
                    'host/a/long_function.cc:VeryLong  being split\n'
                    'host/a/ops.cc:Thing::operator=  being split\n'
                    'host/a/ops.cc:After  being split\n')
        if check(root, allow):
            failures.append('allow-listed violations still fail the check')
        with open(allow, 'a') as f:
            f.write('service/ok.cc:Short  stale\n')
        errors = check(root, allow)
        if len(errors) != 1 or 'no longer violates' not in errors[0]:
            failures.append(f'a stale allow-list entry was not reported: {errors}')
    for f in failures:
        print('self-test FAILED:', f)
    print('self-test', 'failed' if failures else 'passed')
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == '--self-test':
        return self_test()
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    root = argv[1]
    allow = argv[2] if len(argv) == 3 else os.path.join(root, 'tests', 'size_allow.txt')
    errors = check(root, allow)
    for e in errors:
        print(e)
    print(f'size check: {len(errors)} problem(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
