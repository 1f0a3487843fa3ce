"""Bring-up checks of the board a labgrid environment names, with AMP Workbench's driver:
/usr/bin/python3 -m pytest --lg-env labgrid/env-sim.yaml labgrid/test_bringup.py

Each check is one workbench session; a board that serves one session per start (a simulated
peer, env-shm.yaml) takes one test per run: -k test_probe.
"""
import pytest


@pytest.fixture(scope="module")
def workbench(target):
    driver = target.get_driver("AmpWorkbenchDriver")
    target.activate(driver)
    return driver


def test_probe(workbench, record_testsuite_property):
    report = workbench.probe()
    # The bus's problems and each device's error, in the workbench's words.
    problems = report["problems"] + [f"dev {d['devNum']}: {d['error']}" for d in report["devices"] if d.get("error")]
    assert report["ok"], "\n".join(problems)
    assert report["exitStatus"] == 0
    assert report["devices"], "the board advertises no device"
    for device in report["devices"]:
        assert device["phase"] == "ready", device
    record_testsuite_property("devices", len(report["devices"]))


def test_exercise(workbench, record_testsuite_property):
    report = workbench.exercise(count=20)
    assert report["ok"], "\n".join(report["problems"])
    for device in report["devices"]:
        assert device["ok"] == 20, device
        record_testsuite_property(f"dev{device['devNum']}_latency_p99_us", device["latencyUs"]["p99"])


def test_capture(workbench, tmp_path):
    out = tmp_path / "capture"
    report = workbench.capture(out, duration="500ms", exercise=True, junit=str(tmp_path / "capture.xml"))
    assert report["ok"], "\n".join(report["problems"])
    assert report["records"] > 0
    assert (out / "capture.json").exists()
    assert (tmp_path / "capture.xml").exists()
