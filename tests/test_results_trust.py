"""Results you can trust (issue 18): the folder lock, strict records, seeds and presets checked on
resume and on read, honest trial counts, and one-line errors from the command line.

The concurrency, Ctrl-C, closed-pipe and kill/restart cases run the real command in separate
processes; the rest run in this process.
"""

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balance_lite import cli
from balance_lite.experiments import load_results, read_manifest, read_records, results_table
from balance_lite.experiments.report import format_table
from balance_lite.experiments.results import (
    LOCK_NAME,
    FolderLockedError,
    ResultsError,
    append_record,
    lock_folder,
    unit_filename,
)
from tests.experiment_helpers import run_digits

REPO = Path(__file__).resolve().parents[1]
UNIT = "random_B10_trial0.jsonl"
COMMAND = ["run", "digits", "--quick", "--methods", "random", "--no-progress"]




def record(labels, selected, **kw):
    return {"labels": labels, "accuracy": 0.5, "macro_auc": 0.9, "macro_f1": 0.5, "nll": 1.0, "selected": selected, **kw}


def cli_run(args, capsys):
    """``(status, stdout, stderr)`` of ``balance-lite ARGS`` in this process (argparse exits too)."""
    capsys.readouterr()
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err and ": error: " in err


def env():
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _default_sigint():
    # A test run started in the background by a shell inherits SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored: the command under test gets the disposition of an interactive terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "balance_lite.cli", *map(str, args)], env=env(), cwd=REPO,
                            stdout=kw.pop("stdout", subprocess.PIPE), stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint, **kw)


def comparable(path):
    """A results file without its wall-clock timings."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_records(path, repair=False)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted digits-quick random run (seed 0, one trial)."""
    out = tmp_path_factory.mktemp("reference")
    run_digits(out)
    return out


# --- the lock ------------------------------------------------------------------------------------

def wait_for(predicate, timeout=120.0, process=None):
    start = time.monotonic()
    while not predicate():
        if process is not None and process.poll() is not None:
            return False
        if time.monotonic() - start > timeout:
            return False
        time.sleep(0.02)
    return True


def test_two_processes_into_one_folder_the_second_refuses_naming_the_holder(tmp_path, reference):
    out = tmp_path / "shared"
    first = spawn([*COMMAND, "--trials", "2", "--out", out])
    lock = out / LOCK_NAME
    assert wait_for(lambda: lock.exists() and lock.read_text().strip(), process=first), first.communicate()
    # The first run is stopped while the second starts: a quick run can otherwise finish (and release
    # the lock) before the second has imported torch. A stopped process still holds the lock.
    first.send_signal(signal.SIGSTOP)
    try:
        assert first.poll() is None and lock.exists(), "the first run ended before it could be paused"
        second = spawn([*COMMAND, "--trials", "2", "--out", out])
        _, err2 = second.communicate(timeout=300)
    finally:
        first.send_signal(signal.SIGCONT)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and one_line_error(err2), err2
    assert f"pid {first.pid}" in err2 and "in use" in err2
    for trial in (0, 1):
        records = read_records(out / f"random_B10_trial{trial}.jsonl")
        assert [r["iteration"] for r in records] == list(range(len(records))) == [0, 1, 2, 3]
    assert comparable(out / UNIT) == comparable(reference / UNIT)
    assert len(read_manifest(out)["runs"]) == 1
    assert not lock.exists()  # released (and removed) on exit


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    out = tmp_path / "stale"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from balance_lite.experiments.results import lock_folder\n"
        f"with lock_folder({str(out)!r}):\n    print('locked', flush=True); time.sleep(600)")],
        env=env(), stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(FolderLockedError, match=f"pid {holder.pid}"):
        with lock_folder(out):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == holder.pid  # the dead holder's file is still there
    with lock_folder(out) as info:
        assert info["pid"] == os.getpid()
    assert not (out / LOCK_NAME).exists()


# --- records, seeds and presets ------------------------------------------------------------------

BAD_LINES = {
    "a number": "42",
    "null": "null",
    "a list": "[1, 2]",
    "an empty object": "{}",
    "only selected": '{"selected": []}',
    "labels as text": json.dumps(record("20", [])),
    "a float position": json.dumps(record(20, [1.5])),
    "a repeated position": json.dumps(record(20, [3, 3])),
    "no accuracy": json.dumps({k: v for k, v in record(20, []).items() if k != "accuracy"}),
    "a text metric": json.dumps(record(20, [], nll="low")),
}


@pytest.mark.parametrize("what", sorted(BAD_LINES))
def test_a_bad_record_is_one_error_naming_file_and_line(tmp_path, capsys, what):
    out = tmp_path / "bad"
    out.mkdir()
    path = out / UNIT
    path.write_text(json.dumps(record(20, list(range(10)), iteration=0)) + "\n" + BAD_LINES[what] + "\n")
    with pytest.raises(ResultsError, match=f"{UNIT}: line 2: "):
        read_records(path)
    for command in (["table", out], ["plot", out], ["claims", out]):
        status, _, err = cli_run(command, capsys)
        assert status == 2 and one_line_error(err) and "line 2" in err, (command, err)


def test_doubled_records_of_two_writers_are_refused(tmp_path):
    path = tmp_path / UNIT
    for it, labels in ((0, 20), (0, 20), (1, 30), (1, 30)):
        append_record(path, record(labels, list(range(labels, labels + 10)), iteration=it))
    with pytest.raises(ResultsError, match="line 2: 'iteration' must be 1"):
        read_records(path)
    path.write_text("".join(json.dumps(record(n, list(range(n, n + 10)))) + "\n" for n in (20, 20, 30)))
    with pytest.raises(ResultsError, match="line 2: 'labels' must be 30"):
        read_records(path)
    path.write_text(json.dumps(record(20, [])) + "\n" + json.dumps(record(20, [])) + "\n")
    with pytest.raises(ResultsError, match="follows the unit's last record"):
        read_records(path)


def test_deleted_manifest_refuses_another_seed_and_resumes_the_same(tmp_path):
    out = tmp_path / "r"
    run_digits(out, seed=0)
    records = read_records(out / UNIT)
    assert {r["seed"] for r in records} == {0} and len({r["fingerprint"] for r in records}) == 1
    full = (out / UNIT).read_text()
    (out / "manifest.json").unlink()
    (out / UNIT).write_text("".join(full.splitlines(keepends=True)[:2]))
    with pytest.raises(ValueError, match="seed 0, expected 1"):
        run_digits(out, seed=1)
    assert read_manifest(out) is None  # refused before writing a manifest
    run_digits(out, seed=0)  # the records say seed 0 and this preset: resumed
    assert comparable(out / UNIT) == [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_old_records_without_seed_or_fingerprint_still_load_but_not_without_a_manifest(tmp_path, capsys):
    out = tmp_path / "old"
    run_digits(out, seed=0)
    path = out / UNIT
    old = [{k: v for k, v in r.items() if k not in ("seed", "fingerprint")} for r in read_records(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert load_results(out)[("random", 10)][0] == old
    for command in (["table", out], ["plot", out], ["claims", out]):
        assert cli_run(command, capsys)[0] == 0
    assert all(s["status"] == "done" for s in run_digits(out, seed=0))  # resume accepts them
    (out / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        run_digits(out, seed=0)


def test_resume_checks_the_seed_and_preset_of_each_record(tmp_path):
    out = tmp_path / "r"
    run_digits(out, seed=0)
    lines = (out / UNIT).read_text().splitlines()
    first = json.loads(lines[0])
    (out / UNIT).write_text(json.dumps({**first, "seed": 7}) + "\n")
    with pytest.raises(ResultsError, match="line 1 was made with seed 7, expected 0"):
        run_digits(out, seed=0)
    (out / UNIT).write_text(json.dumps({**first, "fingerprint": "0123456789abcdef"}) + "\n")
    with pytest.raises(ResultsError, match="line 1 was made with preset settings 0123456789abcdef"):
        run_digits(out, seed=0)


def test_table_refuses_results_of_another_preset_or_run_in_the_folder(tmp_path, capsys):
    out = tmp_path / "r"
    run_digits(out, seed=0)
    lines = (out / UNIT).read_text().splitlines()
    foreign = [json.dumps({**json.loads(line), "fingerprint": "feedfacefeedface"}) for line in lines]
    (out / unit_filename("random", 10, 0)).write_text("\n".join(foreign) + "\n")
    status, _, err = cli_run(["table", out], capsys)
    assert status == 2 and one_line_error(err) and "another preset" in err
    (out / UNIT).write_text("\n".join(lines) + "\n")
    (out / unit_filename("random", 10, 5)).write_text("\n".join(lines) + "\n")  # a trial the manifest never ran
    status, _, err = cli_run(["table", out], capsys)
    assert status == 2 and "did not make this unit" in err
    (out / unit_filename("random", 10, 5)).unlink()
    assert cli_run(["table", out], capsys)[0] == 0


def test_nan_metric_counts_trials_honestly(tmp_path):
    results = {("random", 10): {t: [record(20, [], macro_auc=math.nan if t else 0.8)] for t in range(2)}}
    (row,) = results_table(results)
    assert row["trials"] == 2 and row["counts"]["macro_auc"] == 1 and row["counts"]["accuracy"] == 2
    assert row["macro_auc"] == pytest.approx((0.8, 0.8, 0.8))
    assert "0.8000 [0.8000, 0.8000] (n=1)" in format_table([row])
    from balance_lite.experiments import curves

    (curve,) = curves(results, "macro_auc")
    assert curve.trials.tolist() == [1]


def test_manifest_that_is_not_a_json_object_is_one_error(tmp_path, capsys):
    for text in ("[1, 2]", "not json", '{"preset": 3}', '{"preset": {}, "seed": "zero"}'):
        out = tmp_path / f"m{abs(hash(text))}"
        out.mkdir()
        (out / "manifest.json").write_text(text)
        for command in ([*COMMAND, "--out", out], ["table", out], ["claims", out]):
            status, _, err = cli_run(command, capsys)
            assert status == 2 and one_line_error(err) and "manifest.json" in err, (text, command, err)


def test_manifest_and_results_get_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        run_digits(tmp_path / "r")
    finally:
        os.umask(previous)
    assert (tmp_path / "r" / "manifest.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "r" / UNIT).stat().st_mode & 0o777 == 0o640


def test_preset_mismatch_names_only_the_differing_settings(tmp_path):
    out = tmp_path / "r"
    run_digits(out)
    with pytest.raises(ValueError, match="another preset") as info:
        run_digits(out, quick=False)
    message = str(info.value)
    assert "is_quick was True, now False" in message and "notes" not in message and "dataset" not in message
    assert len(message) < 800


# --- one-line errors from the command line ------------------------------------------------------

def bad_run_cases(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = {
        "negative seed": ["--seed", "-1"],
        "unknown device": ["--device", "tpu"],
        "meta device": ["--device", "meta"],
        "no methods": ["--methods", ","],
        "no batch sizes": ["--batch-sizes", ","],
        "out is a file": ["--out", a_file],
        "out under a file": ["--out", a_file / "sub"],
        "missing data root": ["--data-root", tmp_path / "no-such-folder"],
        "slurm without slurm": ["--executor", "slurm"],
    }
    import torch

    if not torch.cuda.is_available():
        cases["cuda without cuda"] = ["--device", "cuda"]
    cases["a cuda gpu that does not exist"] = ["--device", f"cuda:{torch.cuda.device_count() + 3}"]
    return cases


def test_bad_run_arguments_are_one_line_errors_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    for what, extra in bad_run_cases(tmp_path).items():
        out = tmp_path / what.replace(" ", "-")
        args = [*COMMAND, "--out", out, *extra] if "--out" not in extra else [*COMMAND, *extra]
        status, _, err = cli_run(args, capsys)
        assert status == 2 and err.count("\n") == 1 and "Traceback" not in err, (what, err)
        assert not out.exists(), what
    assert not (tmp_path / "no-such-folder").exists()


def test_output_must_be_a_file_name_with_an_extension(tmp_path, capsys, reference):
    for command in ("plot", "table", "claims"):
        status, _, err = cli_run([command, reference, "--output", tmp_path], capsys)
        assert status == 2 and one_line_error(err) and "is a folder" in err, (command, err)
    status, _, err = cli_run(["plot", reference, "--output", tmp_path / "curves"], capsys)
    assert status == 2 and one_line_error(err) and ".png" in err
    assert cli_run(["plot", reference, "--output", tmp_path / "curves.pdf"], capsys)[0] == 0
    assert cli_run(["table", reference, "--output", tmp_path / "table"], capsys)[0] == 0  # text needs no extension


def test_a_full_disk_is_one_line_saying_how_to_resume(tmp_path, capsys, monkeypatch):
    from balance_lite.experiments import runner

    calls, append = [], runner.append_record

    def full(path, rec):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        append(path, rec)

    monkeypatch.setattr(runner, "append_record", full)
    status, _, err = cli_run([*COMMAND, "--out", tmp_path / "r"], capsys)
    assert status == 2 and one_line_error(err), err
    assert "No space left on device" in err and "run the same command again to resume" in err
    assert len(read_records(tmp_path / "r" / UNIT)) == 1
    assert not (tmp_path / "r" / LOCK_NAME).exists()


def test_ctrl_c_says_the_run_can_be_resumed_and_the_resume_matches(tmp_path, reference):
    out = tmp_path / "r"
    process = spawn([*COMMAND, "--out", out])
    assert wait_for(lambda: (out / UNIT).exists() and (out / UNIT).read_text().count("\n") >= 1, process=process)
    # Stopped first, so that a quick run cannot end before Ctrl-C arrives: it is delivered on SIGCONT.
    process.send_signal(signal.SIGSTOP)
    assert process.poll() is None and (out / UNIT).read_text().count("\n") < 4, "the run ended before Ctrl-C"
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGCONT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "interrupted" in err and "resume" in err
    assert not (out / LOCK_NAME).exists()
    assert read_manifest(out)["runs"][-1]["interrupted"] is True  # the manifest says the command was stopped
    run_digits(out)
    assert comparable(out / UNIT) == comparable(reference / UNIT)
    assert read_manifest(out)["runs"][-1]["interrupted"] is False


def test_a_closed_stdout_pipe_does_not_stop_the_run(tmp_path, reference):
    out = tmp_path / "r"
    process = spawn([*COMMAND, "--out", out])
    first = process.stdout.readline()  # `| head -1`
    process.stdout.close()
    _, err = process.communicate(timeout=600)
    assert first.startswith("digits (quick)") and process.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert comparable(out / UNIT) == comparable(reference / UNIT)


# --- kills and restarts --------------------------------------------------------------------------

@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kills=st.lists(st.tuples(st.integers(0, 3), st.floats(0.0, 0.5)), min_size=1, max_size=2))
def test_any_kills_and_restarts_end_with_the_uninterrupted_results(tmp_path_factory, reference, kills):
    """Each kill: restart the run, wait until its file has ``lines`` records (or it ends), wait
    ``delay`` seconds more, SIGKILL it. Then one run to the end: the same records as never killed."""
    out = tmp_path_factory.mktemp("killed")
    for lines, delay in kills:
        process = spawn([*COMMAND, "--out", out], stdout=subprocess.DEVNULL)
        path = out / UNIT
        wait_for(lambda: path.exists() and path.read_bytes().count(b"\n") >= lines, process=process)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
    run_digits(out)
    assert comparable(out / UNIT) == comparable(reference / UNIT)
    assert read_records(out / UNIT)[-1]["selected"] == []


def test_a_folder_made_before_a_preset_field_existed_resumes_with_its_own_fingerprint(tmp_path):
    """Results stored before ``initial_per_class`` existed: same settings, so the run resumes and extends them."""
    from balance_lite.experiments.results import preset_fingerprint

    out = tmp_path / "old"
    run_digits(out)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["preset"]["initial_per_class"]
    manifest["fingerprint"] = old_fp = preset_fingerprint(manifest["preset"])
    (out / "manifest.json").write_text(json.dumps(manifest))
    path = out / UNIT
    path.write_text("".join(json.dumps({**r, "fingerprint": old_fp}) + "\n" for r in read_records(path)))
    run_digits(out, trials=2)
    assert {r["fingerprint"] for t in (0, 1) for r in read_records(out / f"random_B10_trial{t}.jsonl")} == {old_fp}
    assert "initial_per_class" not in read_manifest(out)["preset"]
    assert len(load_results(out)[("random", 10)]) == 2
    other = json.loads((out / "manifest.json").read_text())
    other["preset"]["initial_per_class"] = 1
    (out / "manifest.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match="initial_per_class was 1, now None"):
        run_digits(out, trials=2)
