"""labgrid driver for AMP Workbench: probe, exercise and capture a board that speaks virtio-msg
from a labgrid test, over the link its resource names.

The driver runs the workbench's own CLI (``amp-workbench … --json``) and returns its JSON report,
so a test sees exactly what a terminal user sees (README, "Board farms"). It binds to the resource
the board's link needs:

- ``SerialPort`` (``RawSerialPort``, ``USBSerialPort``): the serial bridge, ``serial:PORT@SPEED``;
- ``AmpShmFile`` (below): a board or a simulated peer sharing a file, ``shm-file:PATH[,poll]``;
- ``AmpSimulatedBoard`` (below): the workbench's own simulated board, ``sim`` (a fresh one per command).

Written against the driver API labgrid 0.4 (Debian's python3-labgrid) shares with current
labgrid: ``@target_factory.reg_driver``, ``attr.s``, ``bindings``, ``@Driver.check_active`` and
``@step``.
"""
import json
import os
import subprocess

import attr

from labgrid.driver.common import Driver
from labgrid.driver.exception import ExecutionError
from labgrid.factory import target_factory
from labgrid.resource.common import Resource
from labgrid.step import step

#: The CLI of the checkout this file is in.
CHECKOUT_CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "main", "host", "cli", "amp-workbench.cjs")

#: The workbench's exit status for bad usage (README, "Exit status"): an error in the test, not a board result.
USAGE_ERROR = 2


@target_factory.reg_resource
@attr.s(eq=False)
class AmpShmFile(Resource):
    """A shared-memory file the board (or ``amp-workbench sim --shm PATH``) serves the bus in.

    Args:
        path (str): the shared file; its doorbell socket is PATH.sock
        polling (bool): poll the queues instead of waiting for doorbells (labgrid resources already have a poll())
    """

    path = attr.ib(validator=attr.validators.instance_of(str))
    polling = attr.ib(default=False, validator=attr.validators.instance_of(bool))


@target_factory.reg_resource
@attr.s(eq=False)
class AmpSimulatedBoard(Resource):
    """The simulated board of the driver's ``board`` profile, run by each command itself (``--link sim``).

    A peer started with ``amp-workbench sim --shm`` serves one session; this one needs no set-up
    and serves any number of commands, for trying a test or checking the lab's own machinery.
    """


@target_factory.reg_driver
@attr.s(eq=False)
class AmpWorkbenchDriver(Driver):
    """Brings a virtio-msg board up with AMP Workbench.

    Args:
        board (str): a built-in board id (``amp-workbench boards``); ignored when ``profile`` is set
        profile (str): a board profile file, relative to the environment file
        cli (list): the command that runs the workbench (default: ``node`` and this checkout's CLI)
        timeout (float): seconds one command may take before the test fails
    """

    bindings = {"port": {"SerialPort", "AmpShmFile", "AmpSimulatedBoard"}}
    board = attr.ib(default=None, validator=attr.validators.optional(attr.validators.instance_of(str)))
    profile = attr.ib(default=None, validator=attr.validators.optional(attr.validators.instance_of(str)))
    cli = attr.ib(default=attr.Factory(lambda: ["node", CHECKOUT_CLI]), validator=attr.validators.instance_of(list))
    timeout = attr.ib(default=300.0, validator=attr.validators.instance_of(float))

    def link(self):
        """The --link SPEC of the bound resource."""
        if isinstance(self.port, AmpSimulatedBoard):
            return "sim"
        if isinstance(self.port, AmpShmFile):
            return f"shm-file:{self.port.path}{',poll' if self.port.polling else ''}"
        return f"serial:{self.port.port}@{self.port.speed}"

    def _board_args(self):
        if self.profile is not None:
            return ["--profile", self.target.env.config.resolve_path(self.profile) if self.target.env else self.profile]
        return ["--board", self.board] if self.board is not None else []

    def _run(self, command, args):
        """Runs one workbench command: its JSON report, or ExecutionError with what it said when there is none (bad usage)."""
        argv = [*self.cli, command, *self._board_args(), "--link", self.link(), "--json", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        try:
            report = json.loads(done.stdout) if done.returncode != USAGE_ERROR else None
        except json.JSONDecodeError:
            report = None
        if not isinstance(report, dict):
            said = "\n".join(part.strip() for part in (done.stdout, done.stderr) if part.strip())
            raise ExecutionError(f"amp-workbench {command} exited with status {done.returncode}: {said}", stdout=done.stdout.splitlines(), stderr=done.stderr.splitlines())
        # The exit status as the CLI gave it: 0 passed, 1 the board or the capture failed (README, "Exit status").
        report["exitStatus"] = done.returncode
        return report

    @staticmethod
    def _results(junit):
        return ["--junit", junit] if junit is not None else []

    @Driver.check_active
    @step(title="probe", result=True)
    def probe(self, junit=None):
        """Brings every device up and reports them (``amp-workbench probe --json``); ``junit``: also write JUnit XML there."""
        return self._run("probe", self._results(junit))

    @Driver.check_active
    @step(title="exercise", args=["count", "dev"], result=True)
    def exercise(self, count=10, dev=None, junit=None):
        """Runs each device's workload ``count`` times (``dev``: one device only) and reports latency per device."""
        return self._run("exercise", ["--count", str(count), *(["--dev", str(dev)] if dev is not None else []), *self._results(junit)])

    @Driver.check_active
    @step(title="capture", args=["out", "duration", "exercise"], result=True)
    def capture(self, out, duration="5s", exercise=False, junit=None):
        """Records the bus into the capture folder ``out`` (new or empty) for ``duration``, with the workloads if ``exercise``."""
        return self._run("capture", ["--out", str(out), "--duration", duration, *(["--exercise"] if exercise else []), *self._results(junit)])
