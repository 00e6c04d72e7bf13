"""mlfd_mm.apis.pipeline (tools/run_pipeline.py): stages chained by their
checkpoints, finished stages skipped, results table; on a tiny two-dataset
offline set."""
import json
import os
import os.path as osp

import pytest
from conftest import PYTHON, REPO, run_tool

from mlfd_mm import apis
from mlfd_mm.apis import pipeline
from mlfd_mm.apis.stage_record import read_record


@pytest.mark.slow
def test_pipeline_chains_stages_and_skips_finished_ones(tmp_path,
                                                        tiny_pipeline_run):
    pipe, work, first = tiny_pipeline_run
    assert first.stdout.count(': running') == 4
    seed_dir = work / 'seed0'
    joint = read_record(str(seed_dir / 'joint'))
    # the joint teacher was built from the stage-1 runs' checkpoints
    from mmengine.config import Config
    joint_cfg = Config.fromfile(str(seed_dir / 'joint' / 'config.py'))
    for teacher in joint_cfg.model.teachers:
        rec = read_record(str(seed_dir / 'teachers' / teacher['name']))
        assert teacher['checkpoint'] == rec['checkpoint']
    student_cfg = Config.fromfile(
        str(seed_dir / 'students' / 'mnist' / 'config.py'))
    assert student_cfg.model.teacher.checkpoint == joint['checkpoint']
    assert (seed_dir / 'students' / 'mnist' / 'export' /
            'student.pth').is_file()
    table = (work / 'results.md').read_text()
    assert '| mnist |' in table and '| fashion |' in table
    assert 'gain acc@1' in table
    assert set(joint['metrics']) >= {'mnist/accuracy_top1',
                                     'fashion/accuracy_top1'}
    # the in-process test of the best checkpoint is what tools/test.py says
    student = read_record(str(seed_dir / 'students' / 'mnist'))
    out = tmp_path / 'retest.json'
    run_tool(PYTHON, 'tools/test.py', student['config'], student['checkpoint'],
             '--work-dir', tmp_path / 'retest', '--out', out)
    assert json.loads(out.read_text()) == pytest.approx(student['metrics'])
    # the report of the run: t-SNE of the real models' test features
    report = work / 'report'
    assert f'report: {report / "index.html"}' in first.stdout
    page = (report / 'index.html').read_text()
    assert 'src="embedding_mnist.png"' in page
    assert 'src="curves_fashion.png"' in page
    import numpy as np
    student_emb = np.load(report / 'embedding_mnist_student.npz')
    specific_emb = np.load(report / 'embedding_mnist_specific.npz')
    assert student_emb['points'].shape == specific_emb['points'].shape
    assert student_emb['points'].shape[1] == 2
    assert len(student_emb['groups']) == len(student_emb['points'])
    assert set(np.unique(student_emb['groups'])) == set(range(10))
    # students/animals is not in this pipeline: no embedding invented
    assert not (report / 'embedding_animals.png').exists()
    assert 'wall_time_s' in student and student['wall_time_s'] > 0

    again = run_tool(PYTHON, 'tools/run_pipeline.py', pipe, '--work-dir',
                     work, '--no-report', timeout=300)
    assert again.stdout.count('already done, skipped') == 4
    assert (work / 'results.md').read_text() == table


def test_results_table_mean_std_and_gain(tmp_path):
    from mmengine.config import Config
    pipe = Config(dict(name='x', teachers=dict(a='a.py'), joint_teacher='j',
                       students=dict(a='s.py')))

    def rec(value, key='accuracy/top1'):
        return dict(metrics={key: value, key.replace('1', '5'): 99.0})
    records = {
        0: {'teachers/a': rec(80.0), 'joint': rec(90.0, 'a/accuracy_top1'),
            'students/a': rec(84.0)},
        1: {'teachers/a': rec(82.0), 'joint': rec(91.0, 'a/accuracy_top1'),
            'students/a': rec(88.0)},
    }
    text = apis.write_results(pipe, records, [0, 1],
                                      str(tmp_path / 'r.md'))
    row = [line for line in text.splitlines() if line.startswith('| a |')][0]
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[1] == '81.00 ± 1.41'      # specific acc@1
    assert cells[3] == '90.50 ± 0.71'      # joint acc@1
    assert cells[5] == '86.00 ± 2.83'      # student acc@1
    assert cells[7] == '5.00 ± 1.41'       # gain
    # 5.00 > the larger seed spread (2.83): a win beyond the spread
    assert cells[8] == 'beat beyond the seed spread'
    assert 'Mean student gain over datasets and seeds: +5.00' in text


def test_method_table_rows_and_gains(tmp_path):
    """A pipeline with `table` (AMTML-KD's comparison) writes one row per
    method on its dataset, with the gain over the baseline stage."""
    from mmengine.config import Config
    pipe = Config(dict(
        name='m', dataset='fashion', teachers=dict(t='t.py'),
        students=dict(s='s.py'), baseline='teachers/t',
        table=[('alone', 'teachers/t'), ('distilled', 'students/s')]))

    def rec(value):
        return dict(metrics={'accuracy/top1': value, 'accuracy/top5': 99.0})
    records = {0: {'teachers/t': rec(80.0), 'students/s': rec(79.0)},
               1: {'teachers/t': rec(82.0), 'students/s': rec(84.0)}}
    text = apis.write_results(pipe, records, [0, 1],
                                      str(tmp_path / 'r.md'))
    rows = {line.split('|')[1].strip(): [c.strip() for c in
                                         line.strip('|').split('|')]
            for line in text.splitlines() if line.startswith('| ')}
    assert rows['alone'][2:] == ['81.00 ± 1.41', '99.00 ± 0.00', '-']
    assert rows['distilled'][2] == '81.50 ± 3.54'
    assert rows['distilled'][4] == '0.50 ± 2.12'   # -1 and +2
    assert (tmp_path / 'r.md').read_text() == text


def test_student_stage_gets_the_teachers_it_names():
    """Students with `model.teachers` (AMTML-KD) get the stage-1 runs by
    name, students with `model.teacher` (MLFD) get the joint run, and a
    plain classifier is left alone."""
    from mmengine.config import Config
    done = {'teachers/a': dict(checkpoint='/a.pth', config='/a.py'),
            'joint': dict(checkpoint='/j.pth', config='/j.py')}
    multi = Config(dict(model=dict(teachers=[dict(name='a')])))
    apis.set_student_teachers(multi, done)
    assert multi.model.teachers[0].checkpoint == '/a.pth'
    mlfd = Config(dict(model=dict(teacher=dict(config='x', checkpoint='y'))))
    apis.set_student_teachers(mlfd, done)
    assert (mlfd.model.teacher.config, mlfd.model.teacher.checkpoint) == (
        '/j.py', '/j.pth')
    plain = Config(dict(model=dict(type='ImageClassifier')))
    apis.set_student_teachers(plain, done)
    assert plain.model.to_dict() == dict(type='ImageClassifier')
    unknown = Config(dict(model=dict(teachers=[dict(name='zz')])))
    with pytest.raises(KeyError, match="'zz'.*teachers/a"):
        apis.set_student_teachers(unknown, done)
    with pytest.raises(KeyError, match='joint_teacher'):
        apis.set_student_teachers(mlfd, {})


def test_stages_of_another_pipeline(tmp_path):
    """`stages_of`: stages that the other pipeline runs from the same config
    file (whatever their name) live in its seed dir, the others in this
    one's. A stage dir that holds another config's run is
    refused, naming both."""
    from mmengine.config import Config
    base = Config(dict(name='base', teachers=dict(a='a.py', b='b.py'),
                       joint_teacher='j.py', students=dict(a='s.py')))
    pipe = Config(dict(name='cross', teachers=dict(a='a.py', b='other_b.py',
                                                   c='./b.py'),
                       joint_teacher='j.py', students=dict(a='s.py')))
    stages = apis.share_stages(
        apis.build_stages(pipe, str(tmp_path / 'cross/seed0')),
        apis.build_stages(base, str(tmp_path / 'base/seed0')))
    dirs = {s.key: osp.relpath(s.work_dir, tmp_path) for s in stages}
    assert dirs == {'teachers/a': 'base/seed0/teachers/a',
                    'teachers/b': 'cross/seed0/teachers/b',
                    'teachers/c': 'base/seed0/teachers/b',  # same config
                    'joint': 'base/seed0/joint',
                    'students/a': 'base/seed0/students/a'}
    stage = stages[0]
    assert stage.record_file == str(tmp_path /
                                    'base/seed0/teachers/a/stage.json')
    (tmp_path / 'base/seed0/teachers/a').mkdir(parents=True)
    (tmp_path / 'ck.pth').write_bytes(b'')
    record = dict(checkpoint=str(tmp_path / 'ck.pth'), source='a.py')
    with open(stage.record_file, 'w') as f:
        json.dump(record, f)
    assert stage.finished()['source'] == 'a.py'
    other = apis.Stage('teachers/a', 'other.py', stage.work_dir)
    with pytest.raises(ValueError, match="'a.py'.*'other.py'"):
        other.finished()


def test_pipeline_config_errors(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('name = "x"\n')
    with pytest.raises(KeyError, match='needs `teachers`'):
        apis.run_pipeline(str(bad))
    missing = tmp_path / 'missing.py'
    missing.write_text(
        f'name = "x"\nteachers = dict(a={str(tmp_path / "no.py")!r})\n')
    with pytest.raises(FileNotFoundError, match='no.py'):
        apis.run_pipeline(str(missing), work_dir=str(tmp_path / 'w'))


def test_stage_environment_keeps_the_users_pythonpath(tmp_path, monkeypatch):
    """A stage's process finds the repository first and the user's own
    PYTHONPATH entries after it (issue 11), and runs in the repository
    root."""
    user = str(tmp_path / 'mine')
    env = apis.stage_environment(
        dict(PATH='/bin', PYTHONPATH=os.pathsep.join([user, REPO])))
    assert env['PYTHONPATH'].split(os.pathsep) == [REPO, user]
    assert env['PATH'] == '/bin'
    assert apis.stage_environment({})['PYTHONPATH'] == REPO
    monkeypatch.setenv('PYTHONPATH', user)
    log = tmp_path / 'out.log'
    pipeline.run_logged([PYTHON, '-c', 'import os; print(os.getcwd()); '
                         'print(os.environ["PYTHONPATH"])'], str(log))
    cwd, path = log.read_text().splitlines()
    assert cwd == REPO
    assert path.split(os.pathsep) == [REPO, user]
