"The notebook chat in a real kernel, clicked as JupyterLab clicks it (comm messages): Stop is heard while a reply streams."
import json, os

from jupyter_client.manager import start_new_kernel

SETUP = '''
import json, time
from nanochat_lit.chat import ChatWidget, load_engine
engine, _ = load_engine('sft', 'rambling')
generate = engine.generate
def slow_generate(*args, **kwargs):  # 20 tokens a second: the 400-token reply would take 20 s unless Stop cuts it
    for step in generate(*args, **kwargs):
        time.sleep(0.05)
        yield step
engine.generate = slow_generate
widget = ChatWidget(engine, max_tokens=400, seed=0)
widget.message.value = 'Hello'
print(json.dumps({'send': widget.send_button.model_id, 'stop': widget.stop_button.model_id}))
'''
STATE = '''
turn = widget.session.turns[-1]
print(json.dumps({'generated': turn.generated, 'finish_reason': turn.finish_reason, 'reused': turn.reused,
                  'ends_closed': widget.session.tokens[-1] == widget.session.assistant_end,
                  'send_disabled': widget.send_button.disabled, 'status': widget.status.value}))
'''


def run(client, code:str) -> str:
    "Execute `code` in the kernel; what it printed."
    printed = []
    def keep(msg):
        if msg['msg_type'] == 'stream': printed.append(msg['content']['text'])
        if msg['msg_type'] == 'error': printed.append('\n'.join(msg['content']['traceback']))
    reply = client.execute_interactive(code, timeout=120, output_hook=keep)
    assert reply['content']['status'] == 'ok', ''.join(printed)
    return ''.join(printed)


def click(client, model_id:str):
    "The message JupyterLab sends when a button is clicked."
    client.shell_channel.send(client.session.msg('comm_msg', {'comm_id': model_id, 'data': {'method': 'custom', 'content': {'event': 'click'}}}))


def test_stop_is_heard_while_a_reply_streams(rambling_base):
    manager, client = start_new_kernel(env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(rambling_base)})
    try:
        buttons = json.loads(run(client, SETUP))
        click(client, buttons['send'])
        # the kernel answers while the reply streams: Send's callback has returned
        streaming = run(client, 'time.sleep(1); print(widget.thread.is_alive(), widget.stop_button.disabled, len(widget.transcript.value))')
        alive, stop_disabled, _ = streaming.split()
        assert (alive, stop_disabled) == ('True', 'False'), streaming
        click(client, buttons['stop'])
        stopped = json.loads(run(client, 'widget.thread.join(30)\n' + STATE))
        assert stopped['finish_reason'] == 'stopped' and 5 < stopped['generated'] < 100, stopped
        assert stopped['ends_closed'] and not stopped['send_disabled'] and not stopped['status'], stopped
        run(client, "widget.settings['max_tokens'].value = 5\nwidget.message.value = 'And again?'")
        click(client, buttons['send'])
        again = json.loads(run(client, 'widget.thread.join(30)\n' + STATE))
        assert again['finish_reason'] == 'length' and again['generated'] == 5 and again['reused'] > 0, again
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
