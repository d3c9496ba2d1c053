#!/usr/bin/env python3
"""Benchmark of `likeness serve` (make bench-serve).

- end to end: the upload of 10 photos to the first portrait, default size:
  person01's 8 (the largest set of one person in ../shared/faces/people) and
  2 of other people, which the intake must set aside, as it would a
  stranger in someone's upload;
- requests per second for a job's status and for a portrait's download under
  a bounded load from wrk on loopback (2 threads, 16 connections, 10 s);
- the server's memory with 4 jobs running at once (4 workers, 1 thread each).

The first two run on a server as `likeness serve` starts by default (one
worker per two cores, the cores shared among them); the last on a second
server over the same data folder with 4 workers of one thread.

With PG_CLUSTER (the tests' pg_cluster: a throw-away PostgreSQL), the first
two again on `likeness serve --db` with one `likeness worker` (1 job of 2
threads): the photos, the queue and the portraits in the database.

Usage: tools/bench_serve.py BUILD/likeness FACES_DIR [PG_CLUSTER]
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid


def main():
    binary, faces = sys.argv[1], sys.argv[2]
    data = tempfile.mkdtemp(prefix="likeness-bench-serve-")
    try:
        print("embedded store (SQLite and files), the server's own workers:")
        with serving(binary, data, []) as (base, pid):
            auth, subject = run(base, faces)
        with serving(binary, data, ["--workers", "4", "--threads-per-job", "1", "--queue", "64"]) as (base, pid):
            four_jobs(base, pid, auth, subject)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    if len(sys.argv) > 3:
        print("shared store (serve --db on PostgreSQL), one `likeness worker` of 2 threads:")
        data = tempfile.mkdtemp(prefix="likeness-bench-serve-pg-")
        cluster = subprocess.Popen([sys.argv[3]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            url = cluster.stdout.readline().strip()
            worker = subprocess.Popen([binary, "worker", "--db", url, "--jobs", "1", "--threads-per-job", "2"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                with serving(binary, data, ["--db", url]) as (base, pid):
                    run(base, faces)
            finally:
                worker.terminate()
                worker.wait()
        finally:
            cluster.stdin.close()  # pg_cluster stops its server and removes it
            cluster.wait()
            shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def serving(binary, data, flags):
    server = subprocess.Popen([binary, "serve", "--port", "0", "--data", data] + flags,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        yield re.search(r"(http://\S+)", line).group(1), server.pid
    finally:
        server.terminate()
        server.wait()


def call(base, method, path, body=None, headers=None, raw=None, content_type="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=600) as r:
        text = r.read()
        return json.loads(text) if r.headers.get("Content-Type", "").startswith("application/json") else text


def multipart(field, files):
    boundary = uuid.uuid4().hex
    out = b""
    for path in files:
        with open(path, "rb") as f:
            content = f.read()
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{os.path.basename(path)}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def rss_mb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0


def wrk(url, token):
    out = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = re.search(r"Latency\s+(\S+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat, int(non2xx.group(1)) if non2xx else 0


def wait(base, auth, job, until):
    while True:
        j = call(base, "GET", f"/api/jobs/{job}", headers=auth)
        if until(j):
            return j
        time.sleep(0.05)


def run(base, faces):
    me = call(base, "POST", "/api/users", {"name": "bench", "password": "benchmark!"})
    # A script's way in: a bearer token (no cookie, no CSRF token).
    cookie_req = urllib.request.Request(base + "/api/session", data=json.dumps(
        {"name": "bench", "password": "benchmark!"}).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(cookie_req) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
        csrf = json.loads(r.read())["csrf"]
    token = call(base, "POST", "/api/tokens", {"label": "bench"},
                 headers={"Cookie": cookie, "X-CSRF-Token": csrf})["token"]
    auth = {"Authorization": f"Bearer {token}"}
    subject = call(base, "POST", "/api/subjects", {"name": "Person 01"}, headers=auth)["id"]
    call(base, "POST", f"/api/subjects/{subject}/consent",
         {"given_by": "bench", "purposes": ["portraits", "likeness"], "uses": ["personal"], "retention_days": 1},
         headers=auth)
    photos = sorted(os.path.join(faces, "people", f) for f in os.listdir(os.path.join(faces, "people"))
                    if f.startswith("person01_"))
    strangers = [os.path.join(faces, "people", f) for f in ("person02_1.jpg", "person05_1.jpg")]
    photos += strangers

    t0 = time.time()
    body, ctype = multipart("photos", photos)
    report = call(base, "POST", f"/api/subjects/{subject}/photos", raw=body, headers=auth, content_type=ctype)
    t_upload = time.time() - t0
    job = call(base, "POST", "/api/jobs", {"subject": subject, "prompt": "light grey backdrop, soft light"},
               headers=auth)["id"]
    done = wait(base, auth, job, lambda j: j["state"] in ("done", "failed", "cancelled"))
    t_first = time.time() - t0
    assert done["state"] == "done", done
    print(f"end to end, {len(photos)} photos (person01's {len(photos) - len(strangers)}, {len(strangers)} of others) "
          f"uploaded to the first portrait (1024x1280, default server): {t_first:.1f} s (upload + intake of every photo "
          f"{t_upload:.1f} s; {report['set']['usable']} usable)")

    output = done["outputs"][0]["id"]
    for name, path in (("job status", f"/api/jobs/{job}"), ("portrait download", f"/api/outputs/{output}")):
        rps, lat, bad = wrk(base + path, token)
        print(f"{name:18s} {rps:9.0f} requests/s (wrk: 2 threads, 16 connections, 10 s; mean latency {lat}; "
              f"{bad} non-2xx)")

    return auth, subject


def four_jobs(base, pid, auth, subject):
    call(base, "GET", "/api/health")
    time.sleep(2)  # the models load at start
    base_rss = rss_mb(pid, "VmRSS")
    jobs = [call(base, "POST", "/api/jobs", {"subject": subject, "prompt": "navy backdrop", "count": 1},
                 headers=auth)["id"] for _ in range(4)]
    peak, running_max, t0 = base_rss, 0, time.time()
    while True:
        states = [call(base, "GET", f"/api/jobs/{j}", headers=auth)["state"] for j in jobs]
        running_max = max(running_max, states.count("running"))
        peak = max(peak, rss_mb(pid, "VmRSS"))
        if all(s in ("done", "failed", "cancelled") for s in states):
            break
        time.sleep(0.2)
    print(f"4 jobs at once (4 workers x 1 thread): {running_max} ran together, all done in "
          f"{time.time() - t0:.1f} s; server RSS {base_rss:.0f} MB idle, peak {peak:.0f} MB "
          f"(VmHWM {rss_mb(pid, 'VmHWM'):.0f} MB)")


if __name__ == "__main__":
    main()
