"The sandbox against hostile programs, checked from outside: stray processes, files around a canary, a listening socket, the parent's memory and environment."
import os, shutil, socket, subprocess, sys, tempfile, time, tracemalloc
from pathlib import Path

import psutil
import pytest

from nanochat_lit.execution import execute_code, sandbox_protections

PROTECTIONS = sandbox_protections()
# Going around the seat belts with ctypes tests the operating system alone; where it gives no such defence, skip.
needs = lambda protection: pytest.mark.skipif(not PROTECTIONS[protection], reason=f'the operating system here gives no {protection!r}')


def kernel_allows_network_namespace() -> bool:
    "Whether a process of ours may create a network namespace (with a user namespace unless we are root)."
    flags = 0x40000000 if os.geteuid() == 0 else 0x50000000
    probe = f'import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare({flags}) != 0)'
    return subprocess.run([sys.executable, '-c', probe]).returncode == 0


def test_protections_are_what_the_kernel_allows():
    "The sandbox takes every operating-system defence the machine offers (none is silently lost)."
    assert PROTECTIONS['network namespace'] == kernel_allows_network_namespace()
    if os.geteuid() == 0: assert PROTECTIONS['parent files out of reach'] and PROTECTIONS['forks refused']
    else: assert PROTECTIONS['forks refused']  # RLIMIT_NPROC binds every user but root


def processes_in_session(session:int) -> list[int]:
    "Processes left in the sandbox's session (its id is the sandbox process's pid): anything it started that survived."
    found = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == session: found.append(pid)
        except OSError: pass
    return found


FORK_BOMB = '''
import ctypes, multiprocessing, os, subprocess, time
print(os.getpid(), flush=True)
libc, started, refused_by_seat_belt = ctypes.CDLL(None, use_errno=True), 0, 0
routes = {'seat belt': [os.fork, lambda: subprocess.Popen(['sleep', '60']).pid, lambda: os.system('sleep 60 &') or 1,
                        lambda: multiprocessing.Process(target=time.sleep, args=(60,)).start() or 1],
          'ctypes': [libc.fork]}[ROUTE]
for attempt in range(10):
    for start in routes:
        try: pid = start()
        except Exception as e:
            refused_by_seat_belt += str(e).startswith('sandbox:')
            continue
        if pid == 0: time.sleep(60); os._exit(0)  # a child that got through lingers, to be found
        started += pid > 0
print(refused_by_seat_belt, started)
'''

def check_fork_bomb(route):
    before = psutil.Process().children(recursive=True)
    result = execute_code(FORK_BOMB.replace('ROUTE', repr(route)), timeout=5)
    assert result.success, result.stderr
    sandbox_pid, refused, started = map(int, result.stdout.split())
    assert started == 0, f'{started} processes started through the {route}'
    if route == 'seat belt': assert refused == 4 * 10, f"only {refused} of 40 attempts refused by the seat belts"
    assert processes_in_session(sandbox_pid) == []
    assert psutil.Process().children(recursive=True) == before
    assert execute_code('print("fine")').stdout == 'fine\n'  # the machine still runs programs

def test_fork_bomb_through_the_usual_calls(): check_fork_bomb('seat belt')

@needs('forks refused')
def test_fork_bomb_through_ctypes(): check_fork_bomb('ctypes')


def test_endless_programs_return_promptly():
    for program in ('while True: pass', 'import time\ntime.sleep(60)', 'import sys\nwhile True: sys.stdin.read()'):
        start = time.monotonic()
        result = execute_code(program, timeout=1)
        assert time.monotonic() - start < 2 and result.limit == 'timeout' and not result.success, (program, result)


def test_memory_bomb_stays_in_the_sandbox():
    rss = psutil.Process().memory_info().rss
    for program in ('x = bytearray(10**10)', 'hoard = []\nwhile True: hoard.append(bytearray(10**7))'):
        result = execute_code(program, memory_mb=256)
        assert (result.limit, result.exception) == ('memory', 'MemoryError'), result
    assert psutil.Process().memory_info().rss - rss < 50 << 20


def test_output_flood_is_cut_short_with_bounded_memory():
    tracemalloc.start()
    start = time.monotonic()
    result = execute_code('import sys\nchunk = "x" * 10**6\nfor _ in range(100): sys.stdout.write(chunk)', max_output=100_000)
    elapsed = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.limit == 'output' and not result.success and len(result.stdout) == 100_000
    assert elapsed < 2 and peak < 2 << 20, (elapsed, peak)  # 100 MB printed, at most a few hundred kB held


@pytest.fixture
def canary():
    "A file in a directory of the test's that anyone may enter (so only the defences under test stand in the way)."
    directory = Path(tempfile.mkdtemp())
    directory.chmod(0o755)
    (directory/'canary.txt').write_text('still here')
    yield directory/'canary.txt'
    shutil.rmtree(directory)

def test_files_outside_the_scratch_directory(canary):
    for program in (f'import os\nos.remove({str(canary)!r})', f'import shutil\nshutil.rmtree({str(canary.parent)!r})',
                    f'open({str(canary)!r}, "w").write("gone")', f'open({str(canary.parent/"new.txt")!r}, "w").write("x")',
                    f'import os\nos.rename({str(canary)!r}, "stolen.txt")', 'import os\nos.symlink("/", "root")\nopen("root/tmp/new.txt", "w")'):
        result = execute_code(program)
        assert not result.success and result.exception.startswith('PermissionError: sandbox:'), (program, result)
    assert canary.read_text() == 'still here' and os.listdir(canary.parent) == ['canary.txt']

@needs('parent files out of reach')
def test_files_outside_the_scratch_directory_through_ctypes(canary):
    program = f'''import ctypes
libc = ctypes.CDLL(None)
print(libc.unlink({str(canary).encode()!r}), libc.creat({str(canary.parent/"new.txt").encode()!r}, 0o644))'''
    assert execute_code(program).stdout == '-1 -1\n'
    assert canary.read_text() == 'still here' and os.listdir(canary.parent) == ['canary.txt']

def test_scratch_directory_is_writable_and_removed():
    program = '''import os, shutil, tempfile
os.makedirs("a/b"); open("a/b/notes.txt", "w").write("x"); shutil.rmtree("a")
open("kept.txt", "w").write("y"); tempfile.mkstemp()
print(os.getcwd())'''
    result = execute_code(program)
    assert result.success, result.stderr
    scratch = Path(result.stdout.strip())
    assert not scratch.exists() and not scratch.parent.exists()


@pytest.fixture
def listener():
    server = socket.create_server(('127.0.0.1', 0))
    server.settimeout(0.2)
    yield server
    server.close()

def nobody_connected(server) -> bool:
    try: server.accept()[0].close()
    except TimeoutError: return True
    return False

def test_no_connection_to_a_listening_socket(listener):
    port = listener.getsockname()[1]
    result = execute_code(f'import socket\nsocket.create_connection(("127.0.0.1", {port}), timeout=1)')
    assert result.exception == 'PermissionError: sandbox: opening a socket is not allowed'
    assert nobody_connected(listener)

@needs('network namespace')
def test_no_connection_to_a_listening_socket_through_ctypes(listener):
    port = listener.getsockname()[1]
    program = f'''import ctypes, socket, struct
libc = ctypes.CDLL(None)
fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
address = struct.pack('=H', socket.AF_INET) + struct.pack('!H4s8x', {port}, bytes([127, 0, 0, 1]))
print(libc.connect(fd, address, len(address)))'''
    assert execute_code(program).stdout == '-1\n'
    assert nobody_connected(listener)


def test_secrets_in_the_environment(monkeypatch):
    monkeypatch.setenv('NANOCHAT_TEST_SECRET', 'hunter2')
    result = execute_code('import os\nprint(dict(os.environ))')
    assert result.success and 'hunter2' not in result.stdout and 'NANOCHAT_TEST_SECRET' not in result.stdout
    # the parent's environment in /proc is another user's (as root) or another user namespace's
    if PROTECTIONS['parent files out of reach'] or PROTECTIONS['network namespace']:
        result = execute_code('import os\nprint(open(f"/proc/{os.getppid()}/environ", "rb").read())')
        assert not result.success and 'hunter2' not in result.stdout, result


def test_no_signals_to_the_parent():
    assert execute_code('import os, signal\nos.kill(os.getppid(), signal.SIGTERM)').exception == 'PermissionError: sandbox: os.kill is not allowed'
    if PROTECTIONS['parent files out of reach']:  # another user: the kernel refuses too (signal 0 only asks)
        assert execute_code('import ctypes, os\nprint(ctypes.CDLL(None).kill(os.getppid(), 0))').stdout == '-1\n'
