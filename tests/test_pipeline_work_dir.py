"""A pipeline's work directory (issue 11): owned by one run (lock), its stage
processes stopped with it, stages done only for the config and inputs they
finished with, records and exports written atomically with relative paths,
earlier attempts' logs kept."""
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import PYTHON, REPO, run_tool, write_tiny_pipeline

from mlfd_mm.apis import pipeline, stage_process, stage_record
from mlfd_mm.apis.work_dir_lock import WorkDirLock, WorkDirLocked
from mlfd_mm.atomic_files import atomic_write_text


def _sleeper():
    return subprocess.Popen([PYTHON, '-c', 'import time; time.sleep(120)'])


def _dead_pid():
    proc = subprocess.Popen([PYTHON, '-c', 'pass'])
    proc.wait()
    return proc.pid


def _write_lock(directory, pid, host=None):
    os.makedirs(directory, exist_ok=True)
    with open(osp.join(directory, '.lock'), 'w') as f:
        json.dump(dict(pid=pid, host=host or socket.gethostname(),
                       started='2026-01-01T00:00:00+00:00',
                       command='tools/run_pipeline.py x'), f)


def test_lock_is_exclusive_and_names_its_owner(tmp_path, capsys):
    work = str(tmp_path / 'w')
    with WorkDirLock(work) as lock:
        owner = json.loads((tmp_path / 'w' / '.lock').read_text())
        assert (owner['pid'], owner['host']) == (os.getpid(),
                                                 socket.gethostname())
        with pytest.raises(WorkDirLocked, match='already locked'):
            WorkDirLock(work).acquire()
        assert lock.owner['pid'] == os.getpid()
    assert not (tmp_path / 'w' / '.lock').exists()  # removed at exit

    sleeper = _sleeper()
    try:
        _write_lock(work, sleeper.pid)
        with pytest.raises(WorkDirLocked) as err:
            WorkDirLock(work).acquire()
        assert f'PID {sleeper.pid} on host {socket.gethostname()}' in str(
            err.value)
    finally:
        sleeper.kill()
        sleeper.wait()
    # its owner is gone: stale, taken over with a warning
    dead = _dead_pid()
    _write_lock(work, dead)
    with WorkDirLock(work):
        assert json.loads(
            (tmp_path / 'w' / '.lock').read_text())['pid'] == os.getpid()
    assert f'stale lock of {work}: PID {dead}' in capsys.readouterr().err
    # another host's lock is never taken over
    _write_lock(work, dead, host='elsewhere.example')
    with pytest.raises(WorkDirLocked, match='PID .* host elsewhere.example'):
        WorkDirLock(work).acquire()


def test_second_pipeline_on_a_locked_work_dir_exits_naming_the_owner(
        tmp_path):
    config = tmp_path / 'teacher.py'
    config.write_text('model = dict(type="ImageClassifier")\n')
    pipe = tmp_path / 'pipe.py'
    pipe.write_text(f'name = "x"\nteachers = dict(a={str(config)!r})\n')
    work = tmp_path / 'work'
    sleeper = _sleeper()
    try:
        _write_lock(str(work), sleeper.pid)
        proc = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir',
                        work, check=False, timeout=120)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode != 0
    assert f'is in use by PID {sleeper.pid} on host ' \
        f'{socket.gethostname()}' in proc.stderr
    assert 'running' not in proc.stdout  # no stage started
    assert not (work / 'seed0').exists()


def test_records_hold_paths_relative_to_the_stage_dir(tmp_path):
    stage_dir = tmp_path / 'run' / 'seed0' / 'teachers' / 'a'
    stage_dir.mkdir(parents=True)
    ckpt = stage_dir / 'epoch_1.pth'
    ckpt.write_bytes(b'weights')
    record = dict(key='teachers/a', checkpoint=str(ckpt),
                  config=str(stage_dir / 'config.py'), metrics={})
    stage_record.write_record(str(stage_dir), record)
    stored = json.loads((stage_dir / 'stage.json').read_text())
    assert (stored['checkpoint'], stored['config']) == ('epoch_1.pth',
                                                        'config.py')
    assert not list(stage_dir.glob('*.tmp*'))
    shutil.move(str(tmp_path / 'run'), str(tmp_path / 'moved'))
    moved = tmp_path / 'moved' / 'seed0' / 'teachers' / 'a'
    read = stage_record.read_record(str(moved))
    assert read['checkpoint'] == str(moved / 'epoch_1.pth')
    assert read['config'] == str(moved / 'config.py')
    # an older record (absolute paths) still reads, also once moved
    old = dict(stored, checkpoint=str(ckpt), config='/elsewhere/config.py')
    (moved / 'stage.json').write_text(json.dumps(old))
    read = stage_record.read_record(str(moved))
    assert read['checkpoint'] == str(moved / 'epoch_1.pth')
    assert read['config'] == '/elsewhere/config.py'  # nothing of that name


def _fake_finished(stage, seed, done, options, ckpt_bytes=b'w'):
    """Write what a finished run of ``stage`` leaves, without training."""
    cfg, text, fingerprint = stage.resolve(seed, done, options)
    os.makedirs(stage.work_dir, exist_ok=True)
    ckpt = osp.join(stage.work_dir, 'epoch_1.pth')
    with open(ckpt, 'wb') as f:
        f.write(ckpt_bytes)
    atomic_write_text(
        osp.join(stage.work_dir, stage_record.RESOLVED), text)
    cfg.dump(osp.join(stage.work_dir, 'config.py'))
    return stage_record.write_record(stage.work_dir, dict(
        key=stage.key, seed=seed, checkpoint=ckpt,
        config=osp.join(stage.work_dir, 'config.py'), source=stage.config,
        metrics={}, **stage_record.checkpoint_identity(ckpt),
        fingerprint=fingerprint))


def test_a_stage_is_done_only_for_its_config_and_inputs(tmp_path):
    teacher_cfg = tmp_path / 'teacher.py'
    teacher_cfg.write_text(
        'model = dict(type="ImageClassifier")\n'
        'train_cfg = dict(max_epochs=4)\n')
    joint_cfg = tmp_path / 'joint.py'
    joint_cfg.write_text(
        f'model = dict(type="JointTeacher", teachers=[dict(name="a", '
        f'config={str(teacher_cfg)!r}, checkpoint=None)])\n')
    teacher = pipeline.Stage('teachers/a', str(teacher_cfg),
                             str(tmp_path / 'w/teachers/a'))
    joint = pipeline.Stage('joint', str(joint_cfg), str(tmp_path / 'w/joint'),
                           pipeline.set_teacher_checkpoints)
    rec = _fake_finished(teacher, 0, {}, [])
    assert teacher.check(0, {}, [])[:2] == (rec, None)
    # other --cfg-options, another seed, an edited config: not done, and why
    done, why, _ = teacher.check(0, {}, ['train_cfg.max_epochs=8'])
    assert done is None
    assert why == ('config changed: -train_cfg = dict(max_epochs=4); '
                   '+train_cfg = dict(max_epochs=8)')
    assert 'seed=1' in teacher.check(1, {}, [])[1]
    teacher_cfg.write_text(teacher_cfg.read_text() + 'extra = 3\n')
    assert teacher.check(0, {}, [])[1] == 'config changed: +extra = 3'
    teacher_cfg.write_text(teacher_cfg.read_text().replace('extra = 3\n', ''))
    # the joint stage depends on its teacher's checkpoint (content, not path)
    done_teachers = {'teachers/a': teacher.check(0, {}, [])[0]}
    _fake_finished(joint, 0, done_teachers, [])
    assert joint.check(0, done_teachers, [])[1] is None
    new_teacher = dict(done_teachers['teachers/a'], checkpoint_sha256='f00')
    assert joint.check(0, {'teachers/a': new_teacher}, [])[1] == (
        'input teachers/a changed')
    # a checkpoint replaced under a finished stage
    with open(rec['checkpoint'], 'wb') as f:
        f.write(b'other weights')
    done, why, _ = teacher.check(0, {}, [])
    assert done is None and 'epoch_1.pth changed since the stage' in why
    # running it again keeps the stale run aside, never resumes it
    aside = stage_record.set_aside(teacher.work_dir)
    assert sorted(os.listdir(aside)) == [
        '.resolved_config.py', 'epoch_1.pth', 'stage.json']
    assert teacher.check(0, {}, [])[:2] == (None, None)


def test_earlier_attempts_logs_are_kept(tmp_path):
    log = tmp_path / 'train.out'
    for i in range(3):
        pipeline.run_logged([PYTHON, '-c', f'print("attempt {i}")'], str(log))
    assert log.read_text() == 'attempt 2\n'
    assert (tmp_path / 'train.out.1').read_text() == 'attempt 0\n'
    assert (tmp_path / 'train.out.2').read_text() == 'attempt 1\n'


def test_export_is_complete_only_with_its_marker(tmp_path):
    out = tmp_path / 'export'
    out.mkdir()
    record = dict(checkpoint_sha256='abc')
    assert not stage_process.export_complete(record, str(out))
    (out / 'student.pth').write_bytes(b'12345')
    (out / 'student_config.py').write_text('model = 1\n')
    assert not stage_process.export_complete(record, str(out))  # no marker
    files = {n: dict(size=os.path.getsize(out / n))
             for n in ('student.pth', 'student_config.py')}
    (out / 'export.json').write_text(json.dumps(
        dict(checkpoint_sha256='abc', files=files)))
    assert stage_process.export_complete(record, str(out))
    assert not stage_process.export_complete(dict(checkpoint_sha256='new'),
                                             str(out))  # another checkpoint
    (out / 'student.pth').write_bytes(b'12')  # truncated
    assert not stage_process.export_complete(record, str(out))


_PARENT = '''
import sys, time
sys.path.insert(0, {repo!r})
from mlfd_mm.apis import stage_process
with stage_process.stop_on_signals():
    stage_process.run_logged(
        [sys.executable, '-c', 'import os, time; print(os.getpid(), '
         'flush=True); time.sleep(120)'], {log!r})
'''


def _child_of(log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if osp.isfile(log) and open(log).read().strip():
            return int(open(log).read().split()[0])
        time.sleep(0.1)
    raise AssertionError(f'the stage process never started ({log})')


def _gone(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f'/proc/{pid}/stat') as f:
                if f.read().split(') ')[-1].startswith('Z'):
                    return True  # a zombie: not running
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='Linux')
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT,
                                    signal.SIGKILL])
def test_killing_the_pipeline_stops_its_stage_process(tmp_path, signum):
    log = str(tmp_path / 'train.out')
    parent = subprocess.Popen([PYTHON, '-c', textwrap.dedent(
        _PARENT.format(repo=REPO, log=log))])
    child = _child_of(log)
    parent.send_signal(signum)
    assert parent.wait(timeout=60) == (128 + signum if signum !=
                                       signal.SIGKILL else -signum)
    assert _gone(child), f'stage process {child} still runs'


def _processes_with(text):
    """PIDs of the running processes whose command line contains text."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if text in cmdline and not _gone(int(entry), timeout=0):
            pids.append(int(entry))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='Linux')
def test_killed_moved_and_edited_pipeline_runs(tmp_path, tiny_offline_root,
                                               tiny_pipeline_run):
    """Killed mid-stage (its train.py too) and run again: the table of an
    uninterrupted run (the shared tiny run). Moved: every stage still done.
    A stage config edited: that stage runs again, saying why, its old run
    kept."""
    pipe = write_tiny_pipeline(tmp_path, tiny_offline_root)
    table = (tiny_pipeline_run[1] / 'results.md').read_text()

    work = tmp_path / 'work'
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    killed = subprocess.Popen(
        [PYTHON, 'tools/run_pipeline.py', str(pipe), '--work-dir', str(work),
         '--no-report'], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    joint_dir = str(work / 'seed0' / 'joint')
    deadline = time.time() + 600
    while not _processes_with(f'--work-dir {joint_dir}'):
        assert killed.poll() is None and time.time() < deadline
        time.sleep(0.2)
    children = _processes_with(f'--work-dir {joint_dir}')
    log = osp.join(joint_dir, 'train.out')
    while not osp.getsize(log):  # well into the stage
        assert killed.poll() is None and time.time() < deadline
        time.sleep(0.2)
    killed.send_signal(signal.SIGTERM)
    assert killed.wait(timeout=120) == 128 + signal.SIGTERM
    assert all(_gone(pid) for pid in children)
    assert not (work / '.lock').exists()
    again = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir',
                     work, '--no-report', timeout=900)
    assert again.stdout.count('already done, skipped') == 2  # the teachers
    assert (work / 'results.md').read_text() == table
    assert (work / 'seed0' / 'joint' / 'train.out.1').is_file()  # killed

    moved = tmp_path / 'moved'
    logs = sorted(p.name for p in work.glob('seed0/**/train.out*'))
    shutil.move(str(work), str(moved))
    done = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir',
                    moved, '--no-report', timeout=300)
    assert done.stdout.count('already done, skipped') == 4, done.stdout
    assert (moved / 'results.md').read_text() == table
    # nothing trained again: no new attempt log
    assert sorted(p.name for p in moved.glob('seed0/**/train.out*')) == logs
    # the saved configs name the finished stages where they are now
    joint_cfg = (moved / 'seed0' / 'joint' / 'config.py').read_text()
    student_cfg_text = (moved / 'seed0' / 'students' / 'mnist' /
                        'config.py').read_text()
    assert str(work) + '/' not in student_cfg_text
    assert str(moved) in student_cfg_text and str(moved) in joint_cfg

    student_cfg = tmp_path / 'student_mnist.py'
    student_cfg.write_text(student_cfg.read_text() +
                           'optim_wrapper = dict(optimizer=dict(lr=0.02))\n')
    edited = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir',
                      moved, '--no-report', timeout=600)
    assert edited.stdout.count('already done, skipped') == 3
    assert 'students/mnist: running again (config changed: ' in edited.stdout
    assert 'lr=0.02' in edited.stdout
    student_dir = moved / 'seed0' / 'students' / 'mnist'
    assert (student_dir / 'train.out.1').is_file()
    assert (student_dir / 'superseded' / '1' / 'stage.json').is_file()
    record = stage_record.read_record(str(student_dir))
    marker = json.loads((student_dir / 'export' / 'export.json').read_text())
    assert marker['checkpoint_sha256'] == record['checkpoint_sha256']


def test_a_pipeline_locks_the_stages_of_work_dirs_it_writes_into(tmp_path):
    teacher = tmp_path / 'teacher.py'
    teacher.write_text('model = dict(type="ImageClassifier")\n')
    base = tmp_path / 'base.py'
    base.write_text(f'name = "base"\nteachers = dict(a={str(teacher)!r})\n')
    cross = tmp_path / 'cross.py'
    cross.write_text(f'name = "cross"\nteachers = dict(a={str(teacher)!r})\n'
                     f'stages_of = {str(base)!r}\n')
    sleeper = _sleeper()
    try:
        _write_lock(str(tmp_path / 'runs' / 'base'), sleeper.pid)
        with pytest.raises(WorkDirLocked, match=f'PID {sleeper.pid} on'):
            pipeline.run_pipeline(str(cross),
                                  work_dir=str(tmp_path / 'runs' / 'cross'),
                                  report=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not (tmp_path / 'runs' / 'cross' / '.lock').exists()  # released
    assert not (tmp_path / 'runs' / 'base' / 'seed0').exists()
