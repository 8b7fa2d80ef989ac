"""Push and pull of the census store through a local S3 server, against plain s3fs.

    python benchmarks/remote.py [--scale 24] [--repeats 3] [--out remote.json]

Clone A runs the census workflow (scaled Adult data, every intermediate kept) and
``helix push``-es to moto's S3 server on loopback; clone B ``helix pull --objects`` and
runs HEAD. Side by side, the same bytes go up and down with plain s3fs
(``fs.put`` / ``fs.get`` of the object files, same server, same concurrency defaults),
so the ratios say what helix adds: verification, the run records, atomic local writes.
``helix`` commands are whole processes, which import s3fs (~0.25 s); the same transfers
as whole processes (``python -c`` that imports s3fs, makes a client, puts or gets) are
the like-for-like baseline of the command rows.
Then B's first ``helix run`` is compared with its compile (``helix plan`` in B before the
pull, whole command) plus the loads the run made: the target "costs no more than its
compile plus the loads".

Needs ``pip install 'helixvcs[remote]' 'moto[server]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _census

ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "HELIX_SERVER": "0",
}


def helix(repo: Path, *args: str, as_json: bool = True) -> tuple[float, Any]:
    """Run ``helix --json`` as a user would (its own process); (wall seconds, document)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(repo), *args]
        + (["--json"] if as_json else []),
        env=ENV,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"helix {' '.join(args)} failed:\n{out.stderr}")
    return wall, json.loads(out.stdout) if as_json else None


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto's server did not start")


def s3fs_for(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        endpoint_url=endpoint, key="bench", secret="bench", skip_instance_cache=True
    )


def plain_transfer(endpoint: str, bucket: str, files: list[Path], work: Path) -> dict[str, float]:
    """The same object files up and down with plain s3fs: seconds of put and of get, each
    with a new client, as a helix command starts with one."""
    prefix = f"{bucket}/plain-{uuid.uuid4().hex[:8]}"
    remote = [f"{prefix}/{f.parent.name}/{f.name}" for f in files]
    start = time.perf_counter()
    s3fs_for(endpoint).put([str(f) for f in files], remote)
    put = time.perf_counter() - start
    down = work / f"plain-get-{uuid.uuid4().hex[:8]}"
    down.mkdir()
    start = time.perf_counter()
    s3fs_for(endpoint).get(remote, [str(down / f"{i}") for i in range(len(remote))])
    get = time.perf_counter() - start
    for i in range(len(remote)):  # what helix's store does for every object it writes
        descriptor = os.open(down / f"{i}", os.O_RDONLY)
        os.fsync(descriptor)
        os.close(descriptor)
    synced = time.perf_counter() - start
    shutil.rmtree(down)
    return {"put": put, "get": get, "get_fsync": synced}


PLAIN_COMMAND = """\
import json, sys
import s3fs
job = json.loads(sys.argv[1])
fs = s3fs.S3FileSystem(endpoint_url=job["endpoint"], key="bench", secret="bench")
if job["way"] == "put":
    fs.put(job["local"], job["remote"])
else:
    fs.get(job["remote"], job["local"])
"""


def plain_commands(endpoint: str, bucket: str, files: list[Path], work: Path) -> dict[str, float]:
    """The same transfers as whole commands, like ``helix push`` and ``pull``: a fresh
    interpreter that imports s3fs, makes a client and puts (gets) the same files."""
    prefix = f"{bucket}/plain-cmd-{uuid.uuid4().hex[:8]}"
    remote = [f"{prefix}/{f.parent.name}/{f.name}" for f in files]
    down = work / f"plain-cmd-{uuid.uuid4().hex[:8]}"
    down.mkdir()
    seconds = {}
    for way, local in (
        ("put", [str(f) for f in files]),
        ("get", [str(down / f"{i}") for i in range(len(files))]),
    ):
        job = json.dumps({"endpoint": endpoint, "way": way, "local": local, "remote": remote})
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", PLAIN_COMMAND, job], check=True, env=ENV)
        seconds[f"{way}_command"] = time.perf_counter() - start
    shutil.rmtree(down)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=24.0, help="rows x real Adult")
    parser.add_argument("--repeats", type=int, default=3, help="push/pull rounds (median)")
    parser.add_argument("--out", type=Path, default=Path("remote.json"), help="JSON results")
    parser.add_argument("--workdir", type=Path, help="where to build the repos (default: /tmp)")
    parser.add_argument(
        "--served",
        action="store_true",
        help="push and pull served by each clone's warm server (the default configuration; "
        "started by hand before the clock), instead of commands in processes of their own",
    )
    args = parser.parse_args()
    if args.served:
        ENV.pop("HELIX_SERVER")

    work = Path(tempfile.mkdtemp(prefix="helix-remote-bench-", dir=args.workdir))
    moto, endpoint = start_moto()
    try:
        return run(args, work, endpoint)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def object_files(store: Path, keys: list[str], staging: Path) -> list[Path]:
    """The object file of each key, as a remote keeps it (loose, byte for byte): the
    store's loose file, or for a small value the run wrote into a pack (its writer groups
    them), the same bytes copied out of the pack into ``staging``."""
    from helixvcs.store import DiskObjectStore

    found = []
    for key in keys:
        path = store / key[:2] / key[2:]
        if not path.exists():
            path = staging / key[:2] / key[2:]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(DiskObjectStore(store, hot=False).read_object(key))
        found.append(path)
    return found


def run(args: argparse.Namespace, work: Path, endpoint: str) -> int:
    print(f"work folder {work}; scale {args.scale:g}; S3 server {endpoint} (moto)")
    _census.scale_adult(work / "data", args.scale)
    history = work / "history"
    _census.build_history(history, ())
    a = work / "a"
    _census.clone(history, a, work / "data")
    helix(a, "init", as_json=False)
    _, first = helix(a, "run", "--materialize", "all")
    objects = {n["key"] for n in first["nodes"] if n["materialized"]}
    files = object_files(a / ".helix" / "objects", sorted(objects), work / "a-packed")
    total = sum(f.stat().st_size for f in files)
    print(f"A: first run {first['wall_seconds']:.2f} s; {len(files)} objects, {total / 1e6:.1f} MB")

    fs = s3fs_for(endpoint)
    rounds: list[dict[str, float]] = []
    for i in range(args.repeats):
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        fs.mkdir(bucket)
        url = f"s3://{bucket}/helix"
        cfg = a / ".helixremotes"
        cfg.unlink(missing_ok=True)
        helix(a, "remote", "add", "origin", url, "--endpoint-url", endpoint)
        _census.git(a, "add", ".helixremotes")
        _census.git(a, "commit", "-q", "-m", f"remote {i}")
        helix(a, "run")  # the commit's own run (loads only): what push sends
        if args.served:  # it reads .helixremotes when it starts: it preloads s3fs
            helix(a, "server", "stop", as_json=False)
            helix(a, "server", "start", as_json=False)
        push_wall, pushed = helix(a, "push")
        b = work / f"b{i}"
        subprocess.run(["git", "clone", "-q", str(a), str(b)], check=True, capture_output=True)
        _census.link_data(work / "data", b)
        helix(b, "init", as_json=False)
        with open(b / ".helix" / "config.toml", "a", encoding="utf-8") as f:
            f.write("\n[remote.origin]\ntrusted = true\n")  # census models are pickled
        if args.served:
            helix(b, "server", "start", as_json=False)
        compile_wall, _ = helix(b, "plan")  # B's compile (and plan), before it has anything
        pull_wall, pulled = helix(b, "pull", "--objects")
        b_wall, b_run = helix(b, "run")
        loads = sum(n["seconds"] for n in b_run["nodes"] if n["state"] == "load")
        computed = [n["name"] for n in b_run["nodes"] if n["state"] == "compute"]
        plain = plain_transfer(endpoint, bucket, files, work)
        plain.update(plain_commands(endpoint, bucket, files, work))
        rounds.append(
            {
                "push_wall": push_wall,
                "push_seconds": pushed["seconds"],
                "push_bytes": pushed["bytes"],
                "pull_wall": pull_wall,
                "pull_seconds": pulled["seconds"],
                "pull_bytes": pulled["bytes"],
                "s3fs_put": plain["put"],
                "s3fs_get": plain["get"],
                "s3fs_get_fsync": plain["get_fsync"],
                "s3fs_put_command": plain["put_command"],
                "s3fs_get_command": plain["get_command"],
                "b_run_wall": b_wall,
                "b_compile_wall": compile_wall,
                "b_loads": loads,
                "b_computed": len(computed),
                "metrics_equal": b_run["metrics"] == first["metrics"],
            }
        )
        if args.served:
            helix(b, "server", "stop", as_json=False)
        shutil.rmtree(b)
        print(
            f"round {i + 1}: push {push_wall:.2f} s (in helix {pushed['seconds']:.2f}), "
            f"s3fs put {plain['put']:.2f} s; pull {pull_wall:.2f} s "
            f"(in helix {pulled['seconds']:.2f}), s3fs get {plain['get']:.2f} s; "
            f"B's run {b_wall:.2f} s, {len(computed)} computed"
        )

    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0] if k != "metrics_equal"}
    ratios = {
        "push / s3fs put": med["push_seconds"] / med["s3fs_put"],
        "pull / s3fs get": med["pull_seconds"] / med["s3fs_get"],
        "pull / (s3fs get + fsync)": med["pull_seconds"] / med["s3fs_get_fsync"],
        "push command / s3fs put": med["push_wall"] / med["s3fs_put"],
        "pull command / s3fs get": med["pull_wall"] / med["s3fs_get"],
        "push command / s3fs put command": med["push_wall"] / med["s3fs_put_command"],
        "pull command / s3fs get command": med["pull_wall"] / med["s3fs_get_command"],
        "B's first run / (compile + loads)": med["b_run_wall"]
        / (med["b_compile_wall"] + med["b_loads"]),
    }
    mb = med["push_bytes"] / 1e6
    print(f"\nmedians of {args.repeats} ({mb:.1f} MB each way):")
    rows = [
        ("up (push / put)", med["push_seconds"], med["s3fs_put"]),
        ("down (pull --objects / get)", med["pull_seconds"], med["s3fs_get"]),
        ("down (pull / get, then fsync)", med["pull_seconds"], med["s3fs_get_fsync"]),
        ("push command, with start-up", med["push_wall"], med["s3fs_put"]),
        ("pull command, with start-up", med["pull_wall"], med["s3fs_get"]),
        ("push command / put command", med["push_wall"], med["s3fs_put_command"]),
        ("pull command / get command", med["pull_wall"], med["s3fs_get_command"]),
    ]
    print(f"  {'':34s} {'helix':>8s} {'s3fs':>8s}")
    for label, mine, theirs in rows:
        print(f"  {label:34s} {mine:8.2f} {theirs:8.2f}")
    print(
        f"  B's first run {med['b_run_wall']:.2f} s ({int(med['b_computed'])} computed); "
        f"its compile (helix plan) {med['b_compile_wall']:.2f} s + loads {med['b_loads']:.2f} s"
    )
    print("ratios:")
    for name, value in ratios.items():
        print(f"  {name:34s} {value:.2f}")
    if args.served:
        helix(a, "server", "stop", as_json=False)
    results = {
        "served": args.served,
        "scale": args.scale,
        "objects": len(files),
        "bytes": total,
        "rounds": rounds,
        "medians": med,
        "ratios": ratios,
    }
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"results in {args.out}")
    ok = all(r["b_computed"] == 0 and r["metrics_equal"] for r in rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
