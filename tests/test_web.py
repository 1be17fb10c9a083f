"nanochat_lit_web on loopback: the official openai client, the limits, a busy server and a client that leaves."
import json, socket, time

import httpx, openai, psutil, pytest

from conftest import CONVERSATIONS, WebServer


@pytest.fixture(scope='module')
def memorized_server(memorized_base):
    server = WebServer(memorized_base)
    yield server
    server.stop()


@pytest.fixture(scope='module')
def client(memorized_server):
    return openai.OpenAI(base_url=f'{memorized_server.url}/v1', api_key='not-needed', max_retries=0)


def ask(client, question, **settings):
    return client.chat.completions.create(model='any', messages=[{'role': 'user', 'content': question}], **settings)


def test_openai_client(client):
    assert client.models.list().data[0].id.startswith('nanochat_lit-sft-memorized')
    for question, answer in CONVERSATIONS:
        reply = ask(client, question, temperature=0)
        assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == (answer, 'stop')
        assert reply.usage.completion_tokens > 0 and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    chunks = list(ask(client, '你好', temperature=0, stream=True))
    assert ''.join(c.choices[0].delta.content or '' for c in chunks) == '你好！我能帮你什么？🙂'
    assert chunks[0].choices[0].delta.role == 'assistant' and chunks[-1].choices[0].finish_reason == 'stop'


def test_sampling_settings(client):
    cut = ask(client, 'Hello', temperature=0, stop=['!'])
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ('Hi', 'stop')
    short = ask(client, 'Hello', temperature=0, max_tokens=2)
    assert short.choices[0].finish_reason == 'length' and short.usage.completion_tokens == 2
    same = [ask(client, 'Hello', temperature=2.0, top_p=0.99, seed=5, extra_body={'top_k': 0}).choices[0].message.content for _ in range(2)]
    assert same[0] == same[1]


@pytest.mark.parametrize('change, param', [
    ({'messages': [{'role': 'user', 'content': 'x'}] * 501}, 'messages'),
    ({'messages': [{'role': 'user', 'content': 'x' * 8001}]}, 'messages'),
    ({'messages': [{'role': 'user', 'content': 'x' * 7000}, {'role': 'assistant', 'content': 'y' * 7000}] * 2 + [{'role': 'user', 'content': 'z' * 7000}]}, 'messages'),
    ({'messages': [{'role': 'user', 'content': ''}]}, 'messages'),
    ({'messages': [{'role': 'tool', 'content': 'hi'}]}, 'messages'),
    ({'messages': []}, 'messages'),
    ({'temperature': 2.1}, 'temperature'), ({'temperature': -1}, 'temperature'),
    ({'top_k': 201}, 'top_k'), ({'top_p': 0}, 'top_p'),
    ({'max_tokens': 0}, 'max_tokens'), ({'max_tokens': 4097}, 'max_tokens'),
    ({'max_tokens': 2000}, 'max_tokens'),  # beyond this model's 1,024-token context
    ({'messages': [{'role': 'user', 'content': '你好 ' * 3000}]}, 'messages'),  # a prompt longer than the context
    ({'seed': 'x'}, 'seed'), ({'stop': ['a'] * 5}, 'stop'),
])
def test_limits_are_400s_naming_the_limit(memorized_server, change, param):
    body = {'messages': [{'role': 'user', 'content': 'Hello'}], **change}
    response = httpx.post(f'{memorized_server.url}/v1/chat/completions', json=body, timeout=30)
    assert response.status_code == 400 and response.json()['error']['param'] == param, response.text


def test_malformed_json_and_pages(memorized_server):
    response = httpx.post(f'{memorized_server.url}/v1/chat/completions', content=b'{"messages": [', timeout=30,
                          headers={'content-type': 'application/json'})
    assert response.status_code == 400 and 'not valid JSON' in response.json()['error']['message']
    page = httpx.get(memorized_server.url, timeout=30)
    assert page.status_code == 200 and '<!doctype html>' in page.text.lower() and 'http://' not in page.text and 'https://' not in page.text.split('</head>')[0]
    assert httpx.get(f'{memorized_server.url}/health', timeout=30).json()['status'] == 'ok'
    stats = httpx.get(f'{memorized_server.url}/stats', timeout=30).json()
    assert stats['workers'] == 1 and stats['busy'] == 0 and stats['tokens_served'] > 0


def stats(server): return httpx.get(f'{server.url}/stats', timeout=10).json()


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


def test_busy_server_503_and_a_client_that_leaves(rambling_base):
    server = WebServer(rambling_base, '--max-wait', '0.5')
    try:
        long_reply = {'messages': [{'role': 'user', 'content': 'talk'}], 'max_tokens': 4000, 'stream': True}
        with httpx.Client(timeout=30) as first, first.stream('POST', f'{server.url}/v1/chat/completions', json=long_reply) as stream:
            lines = stream.iter_lines()
            assert json.loads(next(l for l in lines if l)[6:])['choices'][0]['delta'] == {'role': 'assistant'}
            next(l for l in lines if 'content' in l)
            assert stats(server)['busy'] == 1
            refused = httpx.post(f'{server.url}/v1/chat/completions', json={**long_reply, 'stream': False}, timeout=30)
            assert refused.status_code == 503 and refused.json()['error']['type'] == 'server_busy'
            assert refused.headers['retry-after'] == '1'
        # the first client left mid-reply: its worker is free again at once, long before its 4,000 tokens
        wait_for(lambda: stats(server)['busy'] == 0, seconds=5)
        served = stats(server)['tokens_served']
        time.sleep(0.5)
        assert stats(server)['tokens_served'] == served < 4000  # and nothing is generated for nobody
        done = httpx.post(f'{server.url}/v1/chat/completions', json={**long_reply, 'stream': False, 'max_tokens': 5}, timeout=30)
        assert done.status_code == 200 and done.json()['usage']['completion_tokens'] == 5
    finally:
        server.stop()


def test_binds_to_loopback_unless_told(memorized_server):
    addresses = [a.address for nic in psutil.net_if_addrs().values() for a in nic
                 if a.family == socket.AF_INET and not a.address.startswith('127.')]
    if not addresses: pytest.skip('this machine has no network address other than loopback')
    with pytest.raises(httpx.ConnectError): httpx.get(f'http://{addresses[0]}:{memorized_server.port}/health', timeout=5)
    everywhere = WebServer(memorized_server.base, '--host', '0.0.0.0')
    try:
        assert httpx.get(f'http://{addresses[0]}:{everywhere.port}/health', timeout=5).status_code == 200
        assert 'anyone who can reach this machine' in everywhere.process.stdout.readline()
    finally:
        everywhere.stop()
