# checkthreads.py OUT DIR: verify the "threads" crash test (see t_file.c)
import sys, re
out, d = sys.argv[1], sys.argv[2]
last, syncs = {}, {}
for line in open(out):
    m = re.match(r'synced (\d+) (\d+)', line)
    if m:
        i, l = int(m[1]), int(m[2]); last[i] = l; syncs.setdefault(i, set()).add(l)
ok = True
for i in range(4):
    b = open(f'{d}/t{i}', 'rb').read()
    n = len(b) // 100
    exp = bytearray(b''.join((b'%d:%08d:' % (i, k)).ljust(99) + b'\n' for k in range(n)))
    if i % 2 == 0:
        for k in range(1, n, 2): exp[(k + 1) * 100 - 150] = ord('#')
    good = len(b) % 100 == 0 and bytes(exp) == b and len(b) >= last.get(i, 0) and (len(b) in syncs.get(i, set()) or len(b) == 0 and i not in last)
    # a sync whose "synced" line was not printed yet may also be the boundary: allow lengths at a sync multiple
    if not good and len(b) % 100 == 0 and bytes(exp) == b and len(b) >= last.get(i, 0) and ((len(b) // 100 - 1) % (3 + i) == 0):
        good = True
    print(f't{i}: len {len(b)} last acked {last.get(i, 0)} {"ok" if good else "BAD"}')
    ok &= good
sys.exit(0 if ok else 1)
