"""Load test of `nanochat_lit_web` (chapter 12) on loopback: concurrent streaming chat completions, bounded in count and time.

Starts the server itself on a free 127.0.0.1 port (the model of --stage/--model-tag in the base directory, NANOCHAT_LIT_BASE_DIR),
waits for /health, sends `clients` streaming requests at once (one each, its own seed), and stops the server at the end, also on
an error or Ctrl-C. A request either completes (its SSE stream ends with `data: [DONE]`) or gets a clean 503 (a JSON error: no
worker freed up within --max-wait); anything else is a failure, and a request still open after --timeout seconds has hung.
Afterwards /stats must show no busy worker and no waiting request, and no more streams may have generated at once than there are
workers. Exit status 1 on a hung or failed request, a leaked worker, or a worker handed to two requests at a time.

    .venv/bin/python bench/web_load.py                                  # 16 clients x 64 tokens, base model cpu-d4
    .venv/bin/python bench/web_load.py --clients 32 --max-wait 2        # some are turned away with a 503
"""
import asyncio, json, math, os, signal, statistics, subprocess, sys, tempfile, time
from dataclasses import dataclass
from pathlib import Path
from shutil import which

import httpx

from nanochat_lit.common import ConfigError, run_cli


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

class Server:
    "`nanochat_lit_web` in a subprocess on a free loopback port, from `with` until its end (an exception or Ctrl-C included)."
    def __init__(self, flags:list, startup_timeout:float=120):
        self.flags, self.startup_timeout, self.port = flags, startup_timeout, free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        script = Path(sys.executable).parent/'nanochat_lit_web'
        self.command = [str(script if script.exists() else which('nanochat_lit_web')), '--port', str(self.port), *flags]

    def log(self) -> str: return self.log_path.read_text(errors='replace')

    def __enter__(self):
        descriptor, name = tempfile.mkstemp(prefix='web_load_', suffix='.log')  # a file, not a pipe: a chatty server never blocks
        os.close(descriptor)
        self.log_path, start = Path(name), time.perf_counter()
        with open(self.log_path, 'ab') as output:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(self.command, stdout=output, stderr=subprocess.STDOUT)
        try:
            while True:
                if self.process.poll() is not None:
                    raise ConfigError(f"nanochat_lit_web exited with status {self.process.returncode}:\n{self.log()[-3000:]}")
                if time.perf_counter() - start > self.startup_timeout:
                    raise TimeoutError(f"nanochat_lit_web did not answer /health within {self.startup_timeout:g} s:\n{self.log()[-3000:]}")
                try:
                    if httpx.get(f'{self.url}/health', timeout=1).status_code == 200: break
                except httpx.HTTPError: time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - start
        return self

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try: self.process.wait(10)
            except subprocess.TimeoutExpired: self.process.kill(); self.process.wait()
        self.log_path.unlink(missing_ok=True)

    def __exit__(self, *exc): self.stop()

@dataclass
class Outcome:
    "How one request ended: 'completed', 'busy' (a clean 503), 'hung' (open after the timeout) or 'failed' (anything else)."
    status: str = 'failed'
    detail: str = ''
    headers: float|None = None  # seconds from sending to the response's headers: the server had a worker for it
    first_token: float|None = None  # seconds from sending to the first text
    last_token: float|None = None  # seconds from sending to the last text
    seconds: float|None = None  # seconds from sending to the end
    chunks: int = 0  # chunks that carried text: the completion tokens as the stream shows them
    finish_reason: str|None = None
    started: float = 0.0  # time.perf_counter() when it was sent

async def stream_chat(client:httpx.AsyncClient, url:str, body:dict, outcome:Outcome, start:float):
    "Send one streaming chat completion and read it to the end, filling `outcome` as it goes."
    async with client.stream('POST', f'{url}/v1/chat/completions', json=body) as response:
        outcome.headers = time.perf_counter() - start
        if response.status_code == 503:
            error = json.loads(await response.aread()).get('error')
            if isinstance(error, dict) and error.get('message'): outcome.status, outcome.detail = 'busy', error['message']
            else: outcome.detail = f"a 503 without a JSON error: {error!r}"
            return
        if response.status_code != 200:
            outcome.detail = f"status {response.status_code}: {(await response.aread())[:300]!r}"
            return
        async for line in response.aiter_lines():
            if not line: continue
            if not line.startswith('data: '):
                outcome.detail = f"not an SSE data line: {line[:200]!r}"
                return
            if line == 'data: [DONE]':
                outcome.status = 'completed' if outcome.finish_reason else 'failed'
                if not outcome.finish_reason: outcome.detail = 'the stream ended without a finish_reason'
                return
            choice = json.loads(line[len('data: '):])['choices'][0]
            if choice['delta'].get('content'):
                outcome.chunks += 1
                outcome.last_token = time.perf_counter() - start
                if outcome.first_token is None: outcome.first_token = outcome.last_token
            if choice.get('finish_reason'): outcome.finish_reason = choice['finish_reason']
        outcome.detail = 'the stream ended without data: [DONE]'

async def one_client(client:httpx.AsyncClient, url:str, body:dict, timeout:float) -> Outcome:
    outcome = Outcome(started=time.perf_counter())
    start = outcome.started
    try: await asyncio.wait_for(stream_chat(client, url, body, outcome, start), timeout)
    except asyncio.TimeoutError: outcome.status, outcome.detail = 'hung', f"still open after {timeout:g} s"
    except (httpx.HTTPError, json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as e:
        outcome.status, outcome.detail = 'failed', f"{type(e).__name__}: {e}"
    outcome.seconds = time.perf_counter() - start
    return outcome

async def load(url:str, clients:int, max_tokens:int, temperature:float, timeout:float) -> tuple[list, float]:
    "Every client's `Outcome` and the seconds from the first request sent to the last one ended."
    bodies = [{'messages': [{'role': 'user', 'content': f"Tell me a short story about the number {i}."}], 'stream': True,
               'max_tokens': max_tokens, 'temperature': temperature, 'seed': i} for i in range(clients)]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits) as client:
        start = time.perf_counter()
        outcomes = await asyncio.wait_for(asyncio.gather(*(one_client(client, url, b, timeout) for b in bodies)), timeout + 30)
        return outcomes, time.perf_counter() - start

def percentile(values:list, p:float) -> float:
    "The nearest-rank percentile: the smallest value with at least p% of the values at or below it."
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)]

def most_at_once(outcomes:list, slack:float=0.025) -> int:
    "The most streams generating at the same time, from first to last text, each shortened by `slack` seconds at both ends."
    # One worker serves one request at a time: the next one's first token comes after the last one's last token and a prefill.
    # The slack keeps the client's own scheduling (a few ms) from counting as overlap; a worker given to two requests overlaps by far more.
    edges = sorted(edge for o in outcomes if o.first_token is not None and o.last_token - o.first_token > 2 * slack
                   for edge in ((o.started + o.first_token + slack, 1), (o.started + o.last_token - slack, -1)))
    at_once = most = 0
    for _, step in edges:
        at_once += step
        most = max(most, at_once)
    return most

def settled_stats(url:str, seconds:float=5.0) -> dict:
    "/stats once no worker is busy and no request waits, or as it stands after `seconds` (a worker freed after the last byte is no leak)."
    deadline = time.perf_counter() + seconds
    while True:
        stats = httpx.get(f'{url}/stats', timeout=5).json()
        if (stats['busy'] == 0 and stats['waiting'] == 0) or time.perf_counter() > deadline: return stats
        time.sleep(0.1)

def web_load(clients:int=16, # concurrent streaming requests, one each
             max_tokens:int=64, # max_tokens of every request
             temperature:float=0.8, # temperature of every request; request i has seed i
             max_wait:float=30.0, # passed to the server: seconds a request waits for a worker before a 503
             stage:str='base', # base, mid, sft or rl: the checkpoint the server loads
             model_tag:str='cpu-d4', # which run of the stage
             timeout:float=120.0, # seconds after which an open request counts as hung (the whole run: this + 30)
            ):
    "Start nanochat_lit_web on loopback, send `clients` concurrent streaming chat completions, check that none hung or leaked a worker."
    flags = ['--max-wait', str(max_wait), *(['--stage', stage] if stage else []), *(['--model-tag', model_tag] if model_tag else [])]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a `kill` also stops the server, as Ctrl-C does
    with Server(flags) as server:
        serving = next((l for l in server.log().splitlines() if l.startswith('serving')), '')
        print(f"server: nanochat_lit_web {' '.join(flags)} at {server.url}, ready in {server.startup_seconds:.1f} s ({serving})")
        print(f"load: {clients} concurrent streaming clients, max_tokens {max_tokens}, temperature {temperature}, seeds 0..{clients - 1}, "
              f"client timeout {timeout:g} s, {os.cpu_count()} cores")
        try: outcomes, total = asyncio.run(load(server.url, clients, max_tokens, temperature, timeout))
        except asyncio.TimeoutError:
            print(f"FAIL: the run as a whole did not end within {timeout + 30:g} s\n{server.log()[-3000:]}")
            sys.exit(1)
        stats = settled_stats(server.url)
        healthy = httpx.get(f'{server.url}/health', timeout=5).status_code == 200
        log = server.log()
    by_status = {s: [o for o in outcomes if o.status == s] for s in ('completed', 'busy', 'hung', 'failed')}
    done = by_status['completed']
    print(f"requests: {len(done)} completed, {len(by_status['busy'])} turned away with a 503, {len(by_status['hung'])} hung, "
          f"{len(by_status['failed'])} failed | total {total:.2f} s")
    if done:
        first, headers = [o.first_token for o in done if o.first_token is not None], [o.headers for o in done]
        if first: print(f"time to first token: p50 {percentile(first, 50):.2f} s, p95 {percentile(first, 95):.2f} s "
                        f"(from sending, the wait for the one worker included)")
        print(f"time to a worker (response headers): p50 {percentile(headers, 50):.2f} s, p95 {percentile(headers, 95):.2f} s; "
              f"one stream once it has the worker: median {statistics.median(o.seconds - o.headers for o in done):.2f} s")
        reasons = {r: sum(o.finish_reason == r for o in done) for r in sorted({o.finish_reason for o in done})}
        print(f"finish reasons: {', '.join(f'{r} {n}' for r, n in reasons.items())}")
    at_once = most_at_once(done)
    shared = at_once > stats['workers']
    print(f"streams generating at once: at most {at_once} with {stats['workers']} worker(s)"
          + (" -> a worker was handed to more than one request at a time" if shared else ''))
    tokens = sum(o.chunks for o in done)
    print(f"tokens: {tokens:,} completion tokens counted from the streamed chunks, {tokens / total:,.1f} tok/s aggregate over the total time "
          f"| /stats tokens_served {stats['tokens_served']:,} (counted by the server: a token per piece, stop tokens left out)")
    if by_status['busy']: print(f"503 message: {by_status['busy'][0].detail}")
    for o in by_status['hung'] + by_status['failed']: print(f"  {o.status}: {o.detail}")
    leaked = stats['busy'] != 0 or stats['waiting'] != 0
    print(f"/stats afterwards: {stats} -> {'a worker LEAKED' if leaked else 'no worker leaked, nothing waiting'}; "
          f"/health {'ok' if healthy else 'NOT ok'}")
    problems = [f"{len(by_status[s])} {s}" for s in ('hung', 'failed') if by_status[s]] + (['a leaked worker'] if leaked else []) \
             + ([f"{at_once} requests streamed at once from {stats['workers']} worker(s)"] if shared else []) \
             + ([] if healthy else ['/health failing afterwards'])
    if problems:
        print(f"FAIL: {', '.join(problems)}\nserver log (tail):\n{log[-3000:]}")
        sys.exit(1)
    print("OK: every request completed or got a clean 503; no worker leaked")

if __name__ == '__main__': run_cli(web_load)
