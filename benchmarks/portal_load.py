"""Load on the running portal over loopback: concurrent signed-URL uploads and reads.

Starts the app with uvicorn on 127.0.0.1 (a free port) on a fresh data folder, then for a
bounded time (and request count) drives ``workers`` threads, each alternating one upload
(``POST /api/v1/uploads`` then ``PUT`` of a small unique PDF to the signed URL) and reads
(``GET /api/v1/documents``, ``GET /api/v1/documents/{id}``). The runner is not started, so
the numbers are the portal's own (pipelines would compete for the same CPU).

Baseline, measured in the same run with the same concurrency: ``GET /healthz`` (the app's
cheapest route: routing, middleware and HTTP only).

At the end every upload is checked: it has its document row and its stored object.

Usage: python benchmarks/portal_load.py [--seconds 10] [--workers 8] [--max-requests 5000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from medflow.pipelines.labs import build_pipeline
from medflow.platform import Platform, Settings
from medflow.platform.db import RecordNotFoundError
from medflow.web.accounts import AccountRepository
from medflow.web.server import serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _drive(
    base: str, headers: dict[str, str], seconds: float, workers: int, cap: int, mixed: bool
) -> tuple[list[float], list[str], int]:
    """Run the load; return latencies (s), the uploaded document ids, and error count."""
    latencies: list[float] = []
    uploaded: list[str] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    def one(client: httpx.Client, method: str, url: str, **kw: object) -> httpx.Response:
        t0 = time.perf_counter()
        r = client.request(method, url, **kw)  # type: ignore[arg-type]
        with lock:
            latencies.append(time.perf_counter() - t0)
        return r

    def work() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline and len(latencies) < cap:
                if not mixed:
                    if one(client, "GET", "/healthz").status_code != 200:
                        errors += 1
                    continue
                n = next(counter)
                pdf = b"%PDF-1.4\n% load test " + str(n).encode() + b"\n" + b"0" * 2000
                body = {
                    "filename": f"load-{n}.pdf",
                    "content_type": "application/pdf",
                    "size": len(pdf),
                    "patient_id": f"LOAD-{n % 20}",
                }
                t = one(client, "POST", "/api/v1/uploads", json=body)
                if t.status_code != 201:
                    errors += 1
                    continue
                ticket = t.json()
                put = one(
                    client, "PUT", ticket["upload_url"], content=pdf, headers=ticket["headers"]
                )
                if put.status_code != 201:
                    errors += 1
                    continue
                doc_id = put.json()["document_id"]
                with lock:
                    uploaded.append(doc_id)
                for path in ("/api/v1/documents?limit=20", f"/api/v1/documents/{doc_id}"):
                    if one(client, "GET", path).status_code != 200:
                        errors += 1

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, uploaded, errors


def _report(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000 if len(latencies) > 20 else 0.0
    print(f"{name:<28} {len(latencies):>6} requests  {rate:8.1f} req/s  p95 {p95:7.1f} ms")
    return rate


def main() -> None:
    """Run the benchmark and print requests/s, p95 latency, the ratio and lost uploads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(
            data_dir=Path(tmp), notify={"backend": "memory"}, web={"base_url": base}
        )
        with Platform(settings, pipelines=[build_pipeline()]) as platform:
            accounts = AccountRepository(platform.services.db)
            staff = accounts.create_user("load@example.org", "load test password", "staff")
            headers = {"Authorization": f"Bearer {accounts.issue_api_token(staff.id)}"}
            stop, started = threading.Event(), threading.Event()
            server = threading.Thread(
                target=serve,
                args=(platform, "127.0.0.1", port),
                kwargs={"stop": stop, "started": started},
            )
            server.start()
            try:
                started.wait(30)
                print(f"portal at {base}; {args.workers} workers, {args.seconds:.0f} s per phase")
                t0 = time.monotonic()
                base_lat, _, base_err = _drive(
                    base, headers, args.seconds, args.workers, args.max_requests, mixed=False
                )
                base_rate = _report("baseline GET /healthz", base_lat, time.monotonic() - t0)
                t0 = time.monotonic()
                lat, uploaded, err = _drive(
                    base, headers, args.seconds, args.workers, args.max_requests, mixed=True
                )
                rate = _report("uploads + reads (mixed)", lat, time.monotonic() - t0)
            finally:
                stop.set()
                server.join(30)
            store, db = platform.services.store, platform.services.db
            lost = 0
            for doc_id in uploaded:
                try:
                    doc = db.documents.get(doc_id)
                except RecordNotFoundError:
                    lost += 1
                    continue
                if not store.exists(doc.bucket, doc.key):
                    lost += 1
            print(f"ratio mixed/baseline: {rate / base_rate:.2f}")
            print(f"uploads: {len(uploaded)}, lost: {lost}, errors: {err + base_err}")


if __name__ == "__main__":
    main()
