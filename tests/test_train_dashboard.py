"Chapter 5b's TrainingDashboard in a real ipykernel: a Stop click (the comm message JupyterLab sends) reaches a run training in the dashboard's thread, and the run's prints land under the cell that started it."
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START = '''
import time
from nanochat_lit.train import TrainingDashboard
def slow_trainer(on_step):
    "100 steps of 50 ms that stop, as train_loop does, after the step that follows a True from on_step."
    print('plan: 100 steps')
    for step in range(1, 101):
        time.sleep(0.05)
        if on_step({'step': step, 'loss': 1.0, 'smooth_loss': 1.0, 'tokens_per_sec': 1.0, 'num_iterations': 100}): return {'stopped_at': step + 1}
    return {}
dashboard = TrainingDashboard(redraw_seconds=0.5).start(trainer=slow_trainer)
'''


@pytest.fixture
def kernel():
    manager = pytest.importorskip('jupyter_client.manager')
    kernel_manager, client = manager.start_new_kernel(kernel_name='python3', cwd=str(ROOT))
    yield client
    client.stop_channels()
    kernel_manager.shutdown_kernel(now=True)


def run(client, code:str) -> str:
    "Execute `code`, check it succeeded, and return its message id (the parent of its outputs)."
    msg_id = client.execute(code)
    reply = client.get_shell_msg(timeout=60)
    assert reply['content']['status'] == 'ok', reply['content']
    return msg_id


def streams(client, seconds:float) -> list[tuple]:
    "(text, parent message id) of the stream outputs the kernel publishes in the next `seconds`."
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try: msg = client.get_iopub_msg(timeout=0.2)
        except Exception: continue  # queue.Empty: nothing published yet
        if msg['msg_type'] == 'stream': found.append((msg['content']['text'].strip(), msg['parent_header'].get('msg_id')))
    return found


def test_stop_click_reaches_the_training_thread(kernel):
    start = run(kernel, START)
    button = run(kernel, 'print(dashboard.stop_button.model_id)')
    printed = streams(kernel, 2.0)
    assert ('plan: 100 steps', start) in printed, printed  # the thread's print went to its own cell, not to the one running then
    model_id = next(text for text, parent in printed if parent == button)
    kernel.session.send(kernel.shell_channel.socket, kernel.session.msg(
        'comm_msg', {'comm_id': model_id, 'data': {'method': 'custom', 'content': {'event': 'click'}}}))
    check = run(kernel, "result = dashboard.wait(); print(result['stopped_at'] < 100, dashboard.state().startswith('stopped at step'))")
    assert ('True True', check) in streams(kernel, 2.0)
