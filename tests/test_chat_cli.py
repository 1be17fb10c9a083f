"nanochat_lit_chat as a person uses it: one question with -p, and an interactive conversation in a terminal."
import os, subprocess

import pexpect

from conftest import CONVERSATIONS, SCRIPTS


def run_chat(base, *flags):
    return subprocess.run([SCRIPTS/'nanochat_lit_chat', *flags], capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base)})


def test_one_question_chinese_in_and_out(memorized_base):
    done = run_chat(memorized_base, '-p', '你好', '--temperature', '0')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '你好！我能帮你什么？🙂'


def test_interactive_conversation(memorized_base):
    chat = pexpect.spawn(str(SCRIPTS/'nanochat_lit_chat'), ['--temperature', '0'], encoding='utf-8', timeout=60,
                         env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(memorized_base)})
    chat.expect('the sft model .*memorized')
    for question, answer in CONVERSATIONS[:2]:
        chat.expect('you> '); chat.sendline(question)
        chat.expect_exact(f'assistant> {answer}')
    chat.expect('you> '); chat.sendline('/clear')
    chat.expect_exact('(new conversation)')
    chat.expect('you> '); chat.sendline(CONVERSATIONS[2][0])
    chat.expect_exact(f'assistant> {CONVERSATIONS[2][1]}')
    chat.expect('you> '); chat.sendline('/quit')
    chat.expect(pexpect.EOF)
    chat.close()
    assert chat.exitstatus == 0
    assert 'Hello' in (memorized_base/'chat_history').read_text()  # line history survives the session


def test_bad_input_is_one_clear_line(memorized_base, tmp_path):
    for flags, message in ((['--stage', 'mid', '-p', 'hi'], 'no mid checkpoints'),
                           (['--temperature', '5', '-p', 'hi'], 'temperature=5'),
                           (['--step', '7', '-p', 'hi'], 'available steps: 100'),
                           (['-p', ' '], 'no text')):
        done = run_chat(memorized_base, *flags)
        assert done.returncode == 2 and message in done.stderr and 'Traceback' not in done.stderr, (flags, done.stderr)
    done = run_chat(tmp_path, '-p', 'hi')  # a base directory with no model at all
    assert done.returncode == 2 and 'train a model first' in done.stderr
