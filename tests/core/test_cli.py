"""`autobench init`, `validate` and the command line's common behaviour."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, run_cli

from autobench.home import FOLDERS


def test_init_creates_a_home_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "h"
    proc = run_cli("init", "--example", "recall", "--json", home=target, check=True)
    out = json.loads(proc.stdout)
    assert {"competitive_registry.yaml", "research_config.yaml", "experiment_queue.yaml"} <= set(out["created"])
    for folder in FOLDERS:
        assert (target / folder).is_dir(), folder
    before = (target / "competitive_registry.yaml").read_bytes()
    (target / "competitive_registry.yaml").write_bytes(before + b"# my edit\n")
    proc = run_cli("init", home=target)
    assert proc.returncode == 1
    assert "already holds state" in proc.stderr and "nothing was changed" in proc.stderr
    assert (target / "competitive_registry.yaml").read_bytes().endswith(b"# my edit\n")


def test_init_unknown_example_and_list(tmp_path):
    proc = run_cli("init", "--example", "nope", home=tmp_path / "h")
    assert proc.returncode == 1 and "no example 'nope' (available: recall" in proc.stderr
    assert not (tmp_path / "h").exists()
    assert "recall" in json.loads(run_cli("init", "--list", "--json", check=True).stdout)["examples"]


def test_home_from_environment(tmp_path):
    target = tmp_path / "envhome"
    run_cli("init", env={"AUTOBENCH_HOME": str(target)}, check=True)
    assert (target / "experiment_queue.yaml").is_file()


def test_validate_ok(home):
    proc = run_cli("validate", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["errors"] == []
    assert out["files"]["competitive_registry.yaml"] == "ok"
    assert out["files"]["state/gap_matrix.json"] == "absent"


def test_validate_reports_a_broken_file_on_one_line(home):
    path = home / "competitive_registry.yaml"
    path.write_text(path.read_text().replace("scrape_method: api", "scrape_method: apii"))
    proc = run_cli("validate", home=home)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "competitive_registry.yaml: target_leaderboards[1].scrape_method: "
        "unknown scrape method 'apii' (choose from html_table, api, rss, manual)"
    )
    assert "competitive_registry.yaml: invalid" in proc.stdout


def test_validate_checks_folders_against_the_queue(home):
    (home / "experiments/results/H-999/abc/full/seed_1").mkdir(parents=True)
    (home / "experiments/results/production/abc/full/seed_1").mkdir(parents=True)
    (home / "experiments/promoted/H-001_2026-01-05T080000Z.yaml").write_text("lr: 0.1\n")
    (home / "experiments/archived/H-002.md").write_text("rejected\n")
    out = json.loads(run_cli("validate", "--json", home=home).stdout)
    assert out["ok"] is False
    assert "experiments/results/H-999/: no hypothesis H-999 in experiment_queue.yaml" in out["errors"]
    assert ("experiments/promoted/H-001_2026-01-05T080000Z.yaml: H-001 is queued in experiment_queue.yaml, "
            "expected confirming or promoted or rolled_back") in out["errors"]
    assert any(e.startswith("experiments/archived/H-002.md: H-002 is queued") for e in out["errors"])
    assert not any("production" in e for e in out["errors"])


def test_validate_checks_cross_file_references_and_paths(home):
    q = home / "experiment_queue.yaml"
    q.write_text(q.read_text().replace("target_leaderboards: [MemoryBench]", "target_leaderboards: [MemBench]", 1))
    (home / "pages/memorybench.html").unlink()
    out = json.loads(run_cli("validate", "--json", home=home).stdout)
    assert ("experiment_queue.yaml: hypotheses[0].target_leaderboards[0]: unknown leaderboard 'MemBench' "
            "(the registry has MemoryBench, LongContextEval)") in out["errors"]
    assert any(e.startswith("competitive_registry.yaml: target_leaderboards[0].url: "
                            "pages/memorybench.html does not exist")
               for e in out["errors"])


def test_validate_missing_home(tmp_path):
    proc = run_cli("validate", home=tmp_path / "nowhere")
    assert proc.returncode == 1 and "no such folder" in proc.stderr


def test_bad_now_and_usage_errors(home):
    proc = run_cli("queue", "list", "--now", "2026-01-05 06:00", home=home)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("--now: '2026-01-05 06:00' has no time zone")
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_help_version_and_python_m():
    assert "queue" in run_cli("--help", check=True).stdout
    assert run_cli("--version", check=True).stdout.startswith("autobench ")
    proc = subprocess.run([sys.executable, "-m", "autobench", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "validate" in proc.stdout


def test_fast_paths_import_nothing_heavy(home):
    """`--help` and `validate` must not import torch, scipy, matplotlib or Airflow (start-up time)."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['autobench'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('autobench', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'torch', 'scipy', 'matplotlib', 'airflow', 'pandas'})\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    for args in (["--help"], ["validate", "--home", str(home)], ["queue", "list", "--home", str(home)]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert "HEAVY=\n" in proc.stderr, (args, proc.stderr[-500:])


def test_a_home_that_is_a_file_is_one_line_not_a_traceback(tmp_path):
    not_a_folder = tmp_path / "state.json"
    not_a_folder.write_text("{}")
    for command in (["gap"], ["queue", "rank"], ["monitor"], ["digest"]):
        proc = run_cli(*command, home=not_a_folder)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (command, proc.stderr)
        assert str(not_a_folder) in proc.stderr
    assert not_a_folder.read_text() == "{}"


def test_run_refuses_an_id_that_is_a_path(tmp_path):
    """`run ID --config` names the results folder after ID: it must be one folder name."""
    config = tmp_path / "c.yaml"
    config.write_text("config: {steps: 1}\n")
    for bad in ("../../etc", "/tmp/evil", "H-1/../../x", ".."):
        proc = run_cli("run", bad, "--seed", "1", "--config", str(config), home=tmp_path / "home")
        assert proc.returncode == 1 and "is not an experiment id" in proc.stderr, (bad, proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]  # nothing created anywhere


def test_scrape_methods_are_the_registrys(tmp_path, capsys):
    """`scrape --method` offers the scrape registry's names: a method registered at run time works,
    an unknown one is argparse's one line, exit 2."""
    from autobench.cli import main
    from autobench.monitor.scrape import REGISTRY
    from autobench.monitor.scrape.base import Row, Scraper

    class CsvLines(Scraper):
        method = "csv_lines"

        def parse(self, body, options, content_type=None):
            return [Row(rank=None, system=line.split(",")[0], score=float(line.split(",")[1]))
                    for line in body.decode().splitlines() if line]

    page = tmp_path / "board.txt"
    page.write_text("ours,0.91\ntheirs,0.88\n")
    REGISTRY.register("csv_lines", CsvLines)
    try:
        assert main(["scrape", str(page), "--method", "csv_lines", "--metric", "score", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == [{"rank": None, "system": "ours", "score": 0.91},
                                                       {"rank": None, "system": "theirs", "score": 0.88}]
    finally:
        REGISTRY.unregister("csv_lines")
    proc = run_cli("scrape", str(page), "--method", "csv_lines", "--metric", "score")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == ("autobench scrape: error: argument --method: invalid choice: 'csv_lines' "
                                            "(choose from 'html_table', 'api', 'rss', 'manual')")


def test_sweep_refuses_a_pod_backend_in_one_line(home):
    """`--backend` offers every registered backend; one whose runs are pods is refused after
    parsing (the experiment_sweep DAG starts those): one line on stderr, exit 1, nothing picked."""
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    before = StateStore(home).load(QUEUE).model_dump()
    assert "kubernetes" in run_cli("sweep", "--help", check=True).stdout
    proc = run_cli("sweep", "--backend", "kubernetes", "--now", "2026-01-05T06:00:00Z", home=home)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("sweep: the command line runs backends whose runs execute here (local); "
                                  "the kubernetes backend's runs are pods"), proc.stderr
    assert StateStore(home).load(QUEUE).model_dump() == before  # no hypothesis was picked
    proc = run_cli("sweep", "--backend", "nope", home=home)
    assert proc.returncode == 2 and "argument --backend: invalid choice: 'nope'" in proc.stderr
