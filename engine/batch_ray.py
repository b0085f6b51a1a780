"""``batch --ray auto|ADDRESS``: the same batch, its images spread over Ray actors.

Ray Core actors, one ``ImageWorker`` each (the model loads once per actor). The driver keeps
a couple of images in flight per actor, and records each outcome in ``DIR/index.sqlite`` as
it arrives; workers write their files (atomically) to DIR, which must be on storage every
node sees. The index stays the source of truth, so resuming works as it does locally:
images already complete are never sent. An actor that dies is restarted and its unfinished
images retried (``max_restarts``/``max_task_retries``); an image is recorded once whatever
the retries, because its rows are keyed by its path.

Ray is optional: only this module imports it, and only when ``--ray`` is given.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import EngineError

INSTALL_HINT = "--ray needs Ray: pip install -r requirements-ray.txt (ray 2.60.0)"
IN_FLIGHT_PER_ACTOR = 2
RESTARTS = 2


def require_ray():
    try:
        import ray
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    return ray


class ActorWorker:
    """What runs inside each actor: the engine's environment, then an ``ImageWorker``."""

    def __init__(self, settings, root: str, out_dir: str):
        from engine.runtime import prepare_environment

        prepare_environment()
        from engine.batch_worker import ImageWorker

        self._worker = ImageWorker(settings, root, out_dir)

    def process(self, relpath: str):
        return self._worker.process(relpath)

    def pid(self) -> int:
        return os.getpid()


def connect(address: str, workers: int):
    """Start a local Ray runtime (``auto``) or join a cluster; True when we started it."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    source = str(Path(__file__).resolve().parent.parent)
    # Actors import the engine from this source tree (on a cluster: installed on every node).
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(
        p for p in (source, os.environ.get("PYTHONPATH", "")) if p)}}
    if address == "auto":
        # Logical CPUs: one per actor plus room for Ray's own tasks, even on a 2-core machine.
        ray.init(num_cpus=max(os.cpu_count() or 1, workers + 2), include_dashboard=False,
                 runtime_env=runtime_env, log_to_driver=False)
    else:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise EngineError(f"--ray {address}: cannot join the cluster: {exc}") from None
    return True


def start_actors(settings, root: Path, out_dir: Path, workers: int):
    ray = require_ray()
    gpus = float(ray.cluster_resources().get("GPU", 0))
    per_actor = min(1.0, gpus / workers) if gpus else 0
    remote = ray.remote(num_cpus=1, num_gpus=per_actor, max_restarts=RESTARTS,
                        max_task_retries=RESTARTS)(ActorWorker)
    return [remote.remote(settings, str(root), str(out_dir)) for _ in range(workers)]


def run_on_ray(run, pending: list[str], index, err, on_outcome=None) -> None:
    """Explain ``pending`` on ``run.workers`` actors; record each outcome as it comes.

    ``on_outcome(outcome, actors)`` is called after each record."""
    from engine.batch_terminal import image_bar, report_outcome
    from engine.batch_index import ImageOutcome

    ray = require_ray()
    started = connect(run.ray, run.workers)
    actors = start_actors(run.settings, run.folder, run.out, run.workers)
    waiting = list(reversed(pending))
    flying: dict = {}
    dead: set = set()
    resent: set = set()

    def send(actor) -> None:
        live = [a for a in actors if a not in dead]
        if not live:
            raise EngineError("every Ray worker died; run the same command again to go on")
        if actor in dead:
            actor = min(live, key=lambda a: sum(1 for b, _ in flying.values() if b is a))
        if waiting:
            relpath = waiting.pop()
            flying[actor.process.remote(relpath)] = (actor, relpath)

    try:
        with image_bar(len(pending), err) as bar:
            for actor in actors:
                for _ in range(IN_FLIGHT_PER_ACTOR):
                    send(actor)
            while flying:
                ready, _ = ray.wait(list(flying), num_returns=1)
                actor, relpath = flying.pop(ready[0])
                try:
                    outcome = ray.get(ready[0])
                except ray.exceptions.RayActorError as exc:  # died past its restarts
                    dead.add(actor)
                    if relpath not in resent:  # once more, on another actor
                        resent.add(relpath)
                        waiting.append(relpath)
                        send(actor)
                        continue
                    outcome = ImageOutcome(relpath=relpath, status="failed",
                                           error=f"worker failed: {str(exc).strip().splitlines()[0]}")
                index.record(outcome)
                report_outcome(outcome, bar, err)
                bar.update(1)
                if on_outcome is not None:
                    on_outcome(outcome, actors)
                send(actor)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if started:
            ray.shutdown()
