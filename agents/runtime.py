"""Process plumbing for everything that runs work in other processes (parallel learners,
the experiment executors): workers that end with their driver, and a Ray connection.

Below ``testbed`` so the learners in ``agents`` can use it without importing upward. Ray is the
``ray`` extra, not a dependency of a plain install: ``import_ray`` is the one place it is
imported, and refuses in one line naming the extra where it is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any

from scenarios import UserError


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this process when the driver ``parent`` ends, however it ends
    (Ctrl-C, SIGKILL): Linux's parent-death signal where there is one, and a watchdog thread
    that polls the parent's pid everywhere (also covering a driver that died before this ran)."""
    import ctypes
    import signal
    import threading
    import time

    try:
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def _no_ray(needed_by: str) -> UserError:
    return UserError(f"{needed_by} needs Ray, the ray extra: pip install 'testbed[ray]'")


def require_ray(needed_by: str) -> None:
    """Refuse, in one line naming the extra, what needs Ray where it is not installed; imports
    nothing (a learner checks before it builds anything)."""
    missing = sys.modules["ray"] is None if "ray" in sys.modules else importlib.util.find_spec("ray") is None
    if missing:
        raise _no_ray(needed_by)


def import_ray(needed_by: str) -> Any:
    """The ray module (with ``ray.exceptions`` and the start-up constants ``loopback_only`` switches);
    where Ray is not installed, the one-line refusal naming the extra."""
    try:
        import ray
        import ray._private.ray_constants  # noqa: F401
        import ray.exceptions  # noqa: F401
    except ImportError:
        raise _no_ray(needed_by) from None
    return ray


def start_ray(cpus: int, address: str | None, needed_by: str = "--executor ray") -> tuple[Any, bool]:
    """The ray module, connected to ``address`` or to a new local instance of ``cpus`` CPUs bound
    to the loopback interface (unless already initialized); and whether this call started it."""
    ray = import_ray(needed_by)

    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
        why = unreachable(address) if address else None
        if why is not None:
            raise UserError(f"cannot connect to Ray at {address}: {why} (valid: a running cluster's head address "
                            "host:port, auto, ray://host:port, or null for a new local instance)")
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = cpus
            kwargs["_node_ip_address"] = "127.0.0.1"
        try:
            with loopback_only(ray, enabled=not address):
                ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from None
    return ray, started_here


def unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at a plain ``host:port`` Ray address, or None (also for the forms Ray resolves
    or times out itself: ``auto``, ``local``, ``ray://...``). ``ray.init`` retried a closed port for
    minutes on end (its GCS client waits for the server to come up), so impala's ``ray_address`` and
    ``--ray-address`` hung; one TCP connection tells first.

    >>> unreachable("auto") is None
    True
    """
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return None
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return f"nothing answers there ({exc.strerror or type(exc).__name__})"


@contextlib.contextmanager
def loopback_only(ray: Any, enabled: bool = True) -> Iterator[None]:
    """While starting a new local Ray instance, make it listen on 127.0.0.1 only. Ray (2.x) turns a
    loopback ``_node_ip_address`` into the machine's routable address on Linux, so its GCS and
    raylets would listen on every interface of a shared machine; it keeps loopback where it
    considers clusters unsupported (``ray_constants.ENABLE_RAY_CLUSTER`` false, its Windows/macOS
    default). That switch is set for the start-up only and restored after, so a later connection
    to a cluster in the same process is unaffected."""
    if not enabled:
        yield
        return
    ray_constants = ray._private.ray_constants
    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before
