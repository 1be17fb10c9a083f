"Shard downloads against a real HTTP server on 127.0.0.1 that drops connections, stalls, serves garbage, refuses, or works."
import threading, time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa, pyarrow.parquet as pq, pytest
from nanochat_lit.dataset import DownloadError, ShardError, check_shard, download_file, download_shards, list_shards, prepare_dataset, shard_name

FAST = dict(attempts=4, timeout=0.5, backoff=0.01)  # short timeouts and waits: the whole file runs in seconds
FAILURES = 2  # how many times a flaky endpoint fails each file before it serves it whole

def _handler(blobs:dict, counts:Counter, lock:threading.Lock, stop:threading.Event):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def do_GET(self):
            kind, name = self.path.strip('/').split('/')
            with lock:
                counts[self.path] += 1
                attempt = counts[self.path]
            index = int(name.removeprefix('shard_').removesuffix('.parquet'))
            body = blobs.get(index)
            if kind == 'missing' or body is None: return self.send_error(404)
            if kind == 'unavailable' and attempt <= FAILURES: return self.send_error(503)
            failing = kind == 'dead' or (kind == 'one-dead' and index == 3) or (kind in ('drop', 'garbage') and attempt <= FAILURES) \
                      or (kind == 'stall' and attempt == 1)
            if failing and kind == 'garbage': body = b'PAR1' + b'\x00' * (len(body) - 4)
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            if failing and kind in ('drop', 'dead', 'one-dead'):  # half the promised body, then hang up
                self.wfile.write(body[:len(body) // 2])
                self.close_connection = True
                return
            if failing and kind == 'stall':  # half the body, then silence until the client gives up
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                stop.wait(5)
                return
            self.wfile.write(body)
    return Handler

@pytest.fixture(scope='module')
def blobs(tmp_path_factory):
    "Four small valid shards, as bytes."
    folder = tmp_path_factory.mktemp('served')
    for i in range(4):
        pq.write_table(pa.table({'text': [f'shard {i} document {j} ' * 20 for j in range(300)]}), folder/shard_name(i), row_group_size=100)
    return {i: (folder/shard_name(i)).read_bytes() for i in range(4)}

@pytest.fixture
def server(blobs):
    "A threaded HTTP server on a free port; yields (base URL, request counts by path)."
    counts, lock, stop = Counter(), threading.Lock(), threading.Event()
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _handler(blobs, counts, lock, stop))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_port}', counts
    stop.set()
    httpd.shutdown()
    httpd.server_close()

def template(base:str, kind:str) -> str: return f'{base}/{kind}/shard_{{index:05d}}.parquet'

def assert_clean(folder:Path, blobs:dict, indices):
    "Exactly the wanted shards, byte for byte, and no temporary files."
    assert sorted(p.name for p in folder.iterdir()) == [shard_name(i) for i in indices]
    for i in indices:
        assert (folder/shard_name(i)).read_bytes() == blobs[i]
        check_shard(folder/shard_name(i), full=True)

@pytest.mark.parametrize('kind', ['drop', 'garbage', 'unavailable'])
def test_retries_until_the_file_is_whole(server, blobs, tmp_path, kind):
    base, counts = server
    paths = download_shards(range(4), tmp_path, url=template(base, kind), workers=4, progress=False, **FAST)
    assert paths == [tmp_path/shard_name(i) for i in range(4)]
    assert_clean(tmp_path, blobs, range(4))
    assert all(counts[f'/{kind}/{shard_name(i)}'] == FAILURES + 1 for i in range(4)), counts

def test_stalled_server_times_out_and_retries(server, blobs, tmp_path):
    base, counts = server
    start = time.perf_counter()
    download_file(template(base, 'stall').format(index=1), tmp_path/shard_name(1), **FAST)
    assert time.perf_counter() - start < 4  # the 0.5 s timeout fired; the server would have stalled for 5 s
    assert counts[f'/stall/{shard_name(1)}'] == 2
    assert_clean(tmp_path, blobs, [1])

def test_permanent_failure_names_the_url(server, blobs, tmp_path):
    base, counts = server
    url = template(base, 'dead').format(index=2)
    with pytest.raises(DownloadError, match=f'could not download {url} after 4 attempts; last error: DownloadError: connection closed after'):
        download_file(url, tmp_path/shard_name(2), **FAST)
    assert counts[f'/dead/{shard_name(2)}'] == 4
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary file

def test_not_found_fails_at_once(server, tmp_path):
    base, counts = server
    url = template(base, 'missing').format(index=0)
    with pytest.raises(DownloadError, match=f'{url} after 1 attempt; last error: HTTP 404'):
        download_file(url, tmp_path/shard_name(0), **FAST)
    assert counts[f'/missing/{shard_name(0)}'] == 1
    assert list(tmp_path.iterdir()) == []

def test_one_bad_shard_among_good_ones(server, blobs, tmp_path):
    base, counts = server
    with pytest.raises(DownloadError) as error:
        download_shards(range(4), tmp_path, url=template(base, 'one-dead'), workers=4, progress=False, **FAST)
    message = str(error.value)
    assert message.startswith('1 of 4 shards failed') and template(base, 'one-dead').format(index=3) in message
    assert_clean(tmp_path, blobs, range(3))  # the good shards are kept
    before = sum(counts.values())
    download_shards(range(4), tmp_path, url=template(base, 'ok'), workers=4, progress=False, **FAST)  # a second run resumes
    assert counts[f'/ok/{shard_name(3)}'] == 1 and sum(counts.values()) == before + 1
    assert_clean(tmp_path, blobs, range(4))

def test_corrupt_local_shard_is_downloaded_again(server, blobs, tmp_path):
    base, counts = server
    (tmp_path/shard_name(0)).write_bytes(blobs[0][:1000])  # a truncated copy from some earlier accident
    with pytest.raises(ShardError): check_shard(tmp_path/shard_name(0))
    download_shards([0], tmp_path, url=template(base, 'ok'), progress=False, **FAST)
    assert counts[f'/ok/{shard_name(0)}'] == 1
    assert_clean(tmp_path, blobs, [0])

def test_prepare_dataset_web(server, blobs, tmp_path):
    "num_shards=3 of a 4-shard server: shards 0 and 1 to train on, the server's last (3) for validation."
    base, _ = server
    out = prepare_dataset(sources='web', url=template(base, 'ok'), num_shards=3, total_shards=4, output=str(tmp_path/'web'))
    assert [p.name for p in list_shards(out)] == [shard_name(i) for i in (0, 1, 3)]
    assert (out/'manifest.json').exists()
