"""HTML reports: every figure kind is produced from stored episodes; the page renders its
figures without script errors in headless Chromium (slow: needs the browser)."""

import re
import shutil
import subprocess
import sys

import pytest

import agents
import scenarios
import testbed
from agents.adversarial.attacks import ObservationAttack
from testbed.grid import evaluate_grid, parse_axis
from testbed.report.html import write_report

from cli_inprocess import run_inprocess

IP = "mujoco/InvertedPendulum-v5"


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    store = testbed.ResultsStore(root / "r.db")
    sc = scenarios.make(IP)
    ppo = agents.make("ppo", sc, seed=0, n_envs=2, n_steps=64, batch_size=64)
    for k in range(2):  # two checkpoints of one run: a learning curve
        ppo.learn(256)
        path = ppo.save(root / f"ppo-{k}")
        testbed.evaluate(ppo, sc, episodes=3, seed=0, checkpoint=str(path), store=store)
    rnd = agents.make("random", sc, seed=0)
    testbed.evaluate(rnd, sc, episodes=3, seed=0, store=store)
    store.add(evaluate_grid(rnd, sc, [parse_axis("body_mass.pole=0.5:1.5:2"), parse_axis("body_mass.cart=0.5:1.5:2")], episodes=2))
    std = {"agent_0": [1.0, 1.0, 1.0, 1.0]}
    for eps in (0.1, 0.5):
        testbed.evaluate(ppo, sc, episodes=2, seed=0, attack=ObservationAttack("pgd", eps, ppo, std, steps=2), store=store,
                         checkpoint=str(path))
    return root / "r.db", root


def test_report_has_every_figure_kind(report_db, tmp_path):
    db, _ = report_db
    page = write_report(testbed.ResultsStore(db).records(), tmp_path / "out").read_text()
    for fid in ("fig-intervals", "fig-profiles", "fig-learning", "fig-heat-0", "fig-attacks"):
        assert f'id="{fid}"' in page, fid
    assert page.count("<svg") == 5 and "sum over agents" in page


def test_report_draws_worst_case_searches_and_the_worst_of_attacks(report_db, tmp_path):
    from testbed.report.figures import condition_heatmaps, worst_of_attacks
    from testbed.worst_case import parse_box, search

    db, _ = report_db
    sc = scenarios.make(IP)
    rnd = agents.make("random", sc, seed=0)
    found = search(rnd, sc, [parse_box("body_mass.pole=0.5:2"), parse_box("body_mass.cart=0.5:2")], episodes=1,
                   evaluations=5, method="random")
    records = testbed.ResultsStore(db).records()
    ppo = next(r for r in records if r.params.get("attack"))
    mad = [r.model_copy(update={"params": {**r.params, "attack": "mad"}, "team_return": r.team_return - 1.0})
           for r in records if r.params.get("attack")]
    page = write_report(records + found.records + mad, tmp_path / "out").read_text()
    assert 'id="fig-search-0"' in page and "worst of the attacks" in page
    assert len(condition_heatmaps(records + found.records)) == len(condition_heatmaps(records))  # a search is no heatmap
    (worst,) = worst_of_attacks(records + mad).values()
    assert {kind for _, kind in worst.values()} == {"mad"} and ppo.params["eps"] in worst


def test_report_cli_refuses_an_empty_database(tmp_path):
    testbed.ResultsStore(tmp_path / "empty.db")
    proc = run_inprocess("report", str(tmp_path / "empty.db"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "holds no episodes" in proc.stderr


@pytest.mark.slow
def test_report_renders_in_headless_chromium_with_a_video(report_db, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.fail("headless Chromium is needed: make test-all installs it (apt-get install chromium)")
    db, _ = report_db
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "report", str(db), "--out", str(out), "--videos", "1",
                           "--video-steps", "10"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom",
                          (out / "index.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-errors=""' in body
    assert int(re.search(r'data-figures="(\d+)"', body).group(1)) == 6  # five SVG figures and one GIF, all laid out
