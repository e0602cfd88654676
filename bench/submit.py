"""Benchmark: participants answering a wave through gunicorn + PostgreSQL.

    .venv/bin/python bench/submit.py [--participants 3000] [--concurrency 32] [--workers 2] [--threads 1]
        [--database-url postgres://postgres@127.0.0.1:5432/disagreement_bench] [--profile | --profile-only]
        [--client generic --client-script PATH [--warmup 5] [--duration 30]]

Creates (if missing) and migrates its own database (never the one in DATABASE_URL), lays out a
study with one open wave of 10 seven-point items on one page and `--participants` joined
participants with personal links, starts gunicorn with `--workers` sync workers on a free local
port, and lets `--concurrency` simulated participants at a time each load their wave page
(GET /p/<token>/) and submit their 10 answers (POST, expecting the 303 to the next page). Prints
completed submissions per second and request latency percentiles, then checks the database
holds exactly one answer per participant, wave and item. `--profile` also measures the CPU time
of GET, POST and the page after the redirect in-process (the Django application alone), lists
the SQL of one submission and profiles one; `--profile-only` does only that (no server, no load:
a figure that does not depend on what else the machine runs). Prints figures only; exits non-zero only when answers are lost or duplicated or
requests fail.

`--client generic` drives the server with a generic closed-loop survey client instead (a
standalone script, `--client-script`: each of `--concurrency` clients GETs a start URL following
redirects, fills every radio group of the first form, POSTs it and follows the redirect; only
submissions finishing inside the `--duration` window after `--warmup` count), the measurement
used to compare with other survey servers on the same machine; it then checks from the client's
record that every submission it saw accepted is stored exactly once with the answers it posted,
and that nothing else was completed. Give it enough participants for the window (32 clients at
100/s for 35 s: 3,500 or more).

The machine is shared: wall-clock figures (submissions/s, latency) drop when other work runs, so
the benchmark also prints the CPU time per submission of gunicorn, of the PostgreSQL backends
serving the benchmark database and of the load client, the submissions/s those allow on this
machine's cores (the CPU-bound capacity), and the load average before and after the run.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import os
import pstats
import queue
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-submit"
ITEMS = 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4,
                        help="gunicorn workers (default 4, as in the Dockerfile: on 2 cores the GIL makes "
                             "threads slower than more processes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker (1 = sync workers; more = gthread workers)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/disagreement_bench")
    parser.add_argument("--profile", action="store_true",
                        help="after the load, measure GET, POST and the page after the redirect in-process and profile them")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the in-process measurement and profile (no gunicorn, no load): quick and "
                             "independent of what else the machine runs")
    parser.add_argument("--client", choices=("builtin", "generic"), default="builtin",
                        help="builtin: this script's participants (every link once, as fast as they can); generic: "
                             "the generic closed-loop survey client given by --client-script (GET the start URL "
                             "following redirects, fill the radio groups of the form, POST, follow the redirect), "
                             "for --warmup + --duration seconds, the figures comparable with other survey servers")
    parser.add_argument("--client-script", default=os.environ.get("SURVEY_LOAD_CLIENT", ""),
                        help="path of the generic client (default: $SURVEY_LOAD_CLIENT)")
    parser.add_argument("--warmup", type=float, default=5.0, help="generic client: seconds before the window")
    parser.add_argument("--duration", type=float, default=30.0, help="generic client: seconds measured")
    return parser.parse_args()


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == "postgres":
        sys.exit(f"bench: use a database of its own, not {name!r}")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ENV", "CELERY_BROKER_URL")}
    env.update({"DATABASE_URL": url, "DJANGO_DEBUG": "0", "DATABASE_CONN_MAX_AGE": "600",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_LOG_LEVEL": "WARNING",
                "DJANGO_SETTINGS_MODULE": "disagreement.settings"})
    return env


def build_study(participants: int) -> tuple[int, int, list[str]]:
    """A fresh study: one open wave of ITEMS Likert items on one page; returns ids and secrets."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from surveys.models import (
        ConsentVersion,
        Item,
        Participant,
        ParticipantToken,
        Study,
        Wave,
        hash_secret,
    )

    with transaction.atomic():
        Study.objects.filter(slug=SLUG).delete()
        study = Study.objects.create(slug=SLUG, title="Benchmark", status=Study.Status.ACTIVE, languages=["en"],
                                     items_per_page=ITEMS)
        consent = ConsentVersion.objects.create(study=study, version=1, text={"en": "Benchmark consent."})
        labels = {"en": {"1": "Strongly disagree", "7": "Strongly agree"}}
        items = [Item.objects.create(study=study, code=f"q{i}", prompt={"en": f"Benchmark statement {i}."},
                                     kind=Item.Kind.LIKERT, scale_min=1, scale_max=7, step=1, labels=labels,
                                     dont_know=(i % 3 == 0), order=i) for i in range(ITEMS)]
        now = timezone.now()
        wave = Wave.objects.create(study=study, number=1, opens_at=now - dt.timedelta(hours=1),
                                   closes_at=now + dt.timedelta(days=1), state=Wave.State.OPEN)
        wave.items.set(items)
        people = Participant.objects.bulk_create([
            Participant(study=study, consented_at=now, consent_version=consent) for _ in range(participants)])
        secret_list = [secrets.token_urlsafe(24) for _ in people]
        ParticipantToken.objects.bulk_create([
            ParticipantToken(participant=p, token_hash=hash_secret(s)) for p, s in zip(people, secret_list, strict=True)])
    return study.pk, wave.pk, secret_list


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HIDDEN_RE = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')
ITEM_RE = re.compile(r'name="i_(\w+?)"')


class Client:
    """One simulated participant's browser: plain HTTP/1.1, cookies by hand."""

    timeout = 30  # seconds

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.last_location = ""  # the last redirect's Location, without its query

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str, float]:
        headers = {"Host": f"127.0.0.1:{self.port}", "User-Agent": "Mozilla/5.0 Firefox/130.0 bench",
                   "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            elapsed = time.perf_counter() - started
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name] = rest.split(";", 1)[0]
                elif header.lower() == "location":
                    self.last_location = value.split("?")[0]
            return response.status, text, elapsed
        finally:
            connection.close()


def take_part(port: int, secret: str, latencies: dict[str, list[float]], errors: list[str]) -> bool:
    """Load the wave page and submit its answers; True when the 303 came back."""
    client = Client(port)
    path = f"/p/{secret}/"
    status, html, elapsed = client.request("GET", path)
    latencies["GET"].append(elapsed)
    if status != 200:
        errors.append(f"GET {status}")
        return False
    data = dict(HIDDEN_RE.findall(html))
    codes = list(dict.fromkeys(ITEM_RE.findall(html)))
    rng = secrets.SystemRandom()
    for code in codes:
        data[f"i_{code}"] = str(rng.randint(1, 7))
    status, _html, elapsed = client.request("POST", path, urlencode(data).encode())
    latencies["POST"].append(elapsed)
    if status != 303:
        errors.append(f"POST {status}")
        return False
    return len(codes) == ITEMS


def run_load(port: int, secret_list: list[str], concurrency: int):
    work: queue.Queue[str] = queue.Queue()
    for secret in secret_list:
        work.put(secret)
    latencies: dict[str, list[float]] = {"GET": [], "POST": []}
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def worker():
        while True:
            try:
                secret = work.get_nowait()
            except queue.Empty:
                return
            ok = take_part(port, secret, latencies, errors)
            if ok:
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0], time.perf_counter() - started, latencies, errors


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (f"p50 {cuts[49] * 1000:6.1f} ms   p95 {cuts[94] * 1000:6.1f} ms   p99 {cuts[98] * 1000:6.1f} ms   "
            f"max {max(values) * 1000:6.1f} ms")


def check_answers(study_id: int, wave_id: int, expected_participants: int) -> tuple[int, int, int]:
    """(answers stored, duplicated (participant, wave, item) keys, missing keys)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*), count(*) - count(DISTINCT (s.participant_id, s.wave_id, r.item_id))
            FROM surveys_response r JOIN surveys_submission s ON s.id = r.submission_id
            WHERE s.wave_id = %s""", [wave_id])
        stored, duplicated = cursor.fetchone()
    missing = expected_participants * ITEMS - (stored - duplicated)
    return stored, duplicated, missing


def run_generic(args, port: int, secret_list: list[str]) -> dict:
    """Run the generic client against the server; returns its summary and record."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        urls, record, summary = (os.path.join(folder, name) for name in ("urls.txt", "record.json", "summary.json"))
        with open(urls, "w") as handle:
            handle.writelines(f"http://127.0.0.1:{port}/p/{secret}/\n" for secret in secret_list)
        subprocess.run([sys.executable, args.client_script, "--base", f"http://127.0.0.1:{port}", "--urls", urls,
                        "--workers", str(args.concurrency), "--warmup", str(args.warmup), "--duration",
                        str(args.duration), "--record", record, "--json", summary], check=True)
        with open(summary) as handle, open(record) as recorded:
            return {"summary": json.load(handle), "record": json.load(recorded)}


def check_record(wave_id: int, record: dict[str, dict[str, str]], warm: list[str]) -> tuple[int, int, int, int]:
    """Every submission the generic client saw accepted is stored exactly once, with the answers
    it posted: (accepted, stored as posted, wrong or missing, completed without being seen
    accepted: a request the client gave up on (timeout) that the server finished; the warm-up's
    participants are left out)."""
    from django.db import connection

    from surveys.models import hash_secret

    wanted = {hash_secret(url.rstrip("/").rsplit("/", 1)[1]): answers for url, answers in record.items()}
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT t.token_hash, i.code, r.value, s.completed_at IS NOT NULL
            FROM surveys_participanttoken t JOIN surveys_submission s ON s.participant_id = t.participant_id
            JOIN surveys_response r ON r.submission_id = s.id JOIN surveys_item i ON i.id = r.item_id
            WHERE s.wave_id = %s""", [wave_id])
        stored: dict[str, dict[str, float]] = {}
        completed: set[str] = set()
        for token_hash, code, value, done in cursor.fetchall():
            stored.setdefault(token_hash, {})[f"i_{code}"] = value
            if done:
                completed.add(token_hash)
    good = sum(1 for key, answers in wanted.items() if key in completed and stored.get(key) == {
        name: None if value == "dk" else float(value) for name, value in answers.items()})  # "don't know"
    unseen = len(completed - set(wanted) - {hash_secret(secret) for secret in warm})
    return len(wanted), good, len(wanted) - good, unseen


#: Where `wsgi_call` leaves a redirect's Location (not a cookie: never sent back as one).
LOCATION = " location"


def wsgi_call(app, method: str, path: str, cookies: dict, body: bytes = b"") -> tuple[int, str]:
    """One request straight into the WSGI application (no server, no network, no test client)."""
    path, _, query = path.partition("?")
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "wsgi.errors": sys.stderr,
               "HTTP_USER_AGENT": "Mozilla/5.0 Firefox/130.0 bench", "HTTP_ACCEPT_LANGUAGE": "en"}
    if body:
        environ.update({"CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_ORIGIN": "http://127.0.0.1"})
    sent = {k: v for k, v in cookies.items() if k != LOCATION}
    if sent:
        environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in sent.items())
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(int(line.split()[0]))
        for header, value in headers:
            if header.lower() == "location":
                cookies[LOCATION] = value
            elif header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]

    chunks = app(environ, start_response)
    try:
        text = b"".join(chunks).decode()
    finally:
        chunks.close()
    return status[0], text


#: The requests of one submission as the generic client makes them, timed one by one.
STEPS = ("GET", "POST", "after")


def take_part_in_process(app, secret: str, cpu: dict[str, list[float]] | None = None, profiler=None) -> None:
    """GET the page, POST its answers, GET the page the redirect names (the generic client's
    submission), each straight into the WSGI application; CPU time per request into `cpu`."""
    cookies: dict[str, str] = {}
    path = f"/p/{secret}/"
    html = ""

    def call(step: str, method: str, target: str, body: bytes = b"") -> tuple[int, str]:
        if profiler:
            profiler.enable()
        started = time.process_time()
        result = wsgi_call(app, method, target, cookies, body)
        elapsed = time.process_time() - started
        if profiler:
            profiler.disable()
        if cpu is not None:
            cpu[step].append(elapsed)
        return result

    status, html = call("GET", "GET", path)
    assert status == 200, status
    data = dict(HIDDEN_RE.findall(html))
    for code in dict.fromkeys(ITEM_RE.findall(html)):
        data[f"i_{code}"] = "4"
    status, _html = call("POST", "POST", path, urlencode(data).encode())
    assert status == 303, status
    status, _html = call("after", "GET", urlsplit(cookies.pop(LOCATION)).path)
    assert status == 200, status


def profile_in_process(secret_list: list[str]) -> None:
    """CPU per request of the Django application alone, then one profiled submission."""
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        sys.exit("bench: --profile needs PostgreSQL")
    app = get_wsgi_application()
    warm, timed, queried, profiled = secret_list[:10], secret_list[10:-2], secret_list[-2], secret_list[-1]
    for secret in warm:
        take_part_in_process(app, secret)
    with connection.cursor() as cursor:  # the server process serving this one (a persistent connection)
        cursor.execute("SELECT pg_backend_pid()")
        backend = [cursor.fetchone()[0]]
    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    database_before = cpu_seconds(backend)
    for secret in timed:
        take_part_in_process(app, secret, cpu)
    database = (cpu_seconds(backend) - database_before) * 1000 / len(timed)
    medians = {step: statistics.median(cpu[step]) * 1000 for step in STEPS}
    print(f"\nin-process CPU per request (Django alone, median of {len(timed)} submissions): "
          f"GET {medians['GET']:.2f} ms, POST {medians['POST']:.2f} ms, page after the redirect {medians['after']:.2f} ms; "
          f"{sum(medians.values()):.2f} ms per submission; its PostgreSQL server process {database:.2f} ms per submission")
    with CaptureQueriesContext(connection) as queries:
        take_part_in_process(app, queried)
    print(f"SQL statements of one GET + POST + page after the redirect: {len(queries.captured_queries)}")
    for query in queries.captured_queries:
        print(f"  {query['sql'][:120]}")
    profiler = cProfile.Profile(time.process_time)
    take_part_in_process(app, profiled, profiler=profiler)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(30)
    print("\n--- cProfile of one GET + POST + page after the redirect (CPU time; the profiler itself slows "
          "Python code down):")
    print("\n".join(line for line in stream.getvalue().splitlines()[4:] if line.strip()))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes, from /proc (Linux)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def database_backends() -> list[int]:
    """PostgreSQL server processes serving the benchmark database (gunicorn keeps its connections
    open), not the other databases on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [pid for (pid,) in cursor.fetchall()]


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> int:
    args = parse_args()
    if args.client == "generic" and not os.path.isfile(args.client_script):
        sys.exit("bench: --client generic needs --client-script PATH (or $SURVEY_LOAD_CLIENT)")
    ensure_database(args.database_url)
    env = environment(args.database_url)
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    setup_started = time.perf_counter()
    if args.profile_only:
        _study_id, _wave_id, secret_list = build_study(400)
        profile_in_process(secret_list)
        return 0
    extra = 60 if args.profile else 0
    study_id, wave_id, secret_list = build_study(args.participants + extra)
    profile_secrets = secret_list[len(secret_list) - extra:]
    secret_list = secret_list[:len(secret_list) - extra]
    print(f"bench/submit.py: {args.participants} participants, {args.concurrency} concurrent, "
          f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL {urlsplit(args.database_url).path.lstrip('/')}, "
          f"{ITEMS} items on one page, {os.cpu_count()} CPUs (set-up {time.perf_counter() - setup_started:.1f} s)")

    port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "disagreement.wsgi:application", "--workers",
         str(args.workers), "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256"],
        cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        warm, secret_list = secret_list[:args.concurrency], secret_list[args.concurrency:]
        run_load(port, warm, args.concurrency)  # each worker loads code, templates, translations
        server_pids = [gunicorn.pid, *children(gunicorn.pid)]
        database_pids = database_backends()
        load_before = load()
        before = cpu_seconds(server_pids), cpu_seconds(database_pids), time.process_time()
        if args.client == "generic":
            generic = run_generic(args, port, secret_list)
        else:
            done, elapsed, latencies, errors = run_load(port, secret_list, args.concurrency)
        after = cpu_seconds(server_pids), cpu_seconds(database_pids), time.process_time()
        load_after = load()
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    if args.client == "generic":
        summary = generic["summary"]
        accepted, good, bad, unseen = check_record(wave_id, generic["record"], warm)
        server, database = ((b - a) * 1000 / max(accepted, 1) for a, b in zip(before[:2], after[:2], strict=True))
        print(f"generic client, {args.concurrency} clients, {args.warmup:g} s warm-up, {args.duration:g} s window: "
              f"{summary['submissions_per_s']:.1f} submissions/s, p50 {summary['p50_ms']:.0f} ms, "
              f"p95 {summary['p95_ms']:.0f} ms, p99 {summary['p99_ms']:.0f} ms, errors {summary['errors_in_window']} "
              f"(total {summary['errors_total']}){' URLS EXHAUSTED' if summary['urls_exhausted'] else ''}")
        print(f"CPU per accepted submission (GET, POST, page after the redirect): gunicorn {server:.1f} ms, "
              f"PostgreSQL {database:.1f} ms; client {summary['client_cpu_s']:.1f} s in {summary['wall_s']:.1f} s")
        print(f"machine: {load_before} before the run, {load_after} after")
        print(f"stored exactly once as posted: {good} of {accepted} accepted submissions; wrong or missing: {bad}; "
              f"completed but not seen accepted by the client (it gave up waiting): {unseen}")
        if args.profile:
            profile_in_process(profile_secrets)
        return 0 if bad == 0 and summary["errors_total"] == 0 else 1

    every = latencies["GET"] + latencies["POST"]
    print(f"completed submissions: {done} of {len(secret_list)} in {elapsed:.2f} s")
    print(f"submissions/s:         {done / elapsed:.1f}   (requests/s {len(every) / elapsed:.1f})")
    print(f"latency, all requests: {percentiles(every)}")
    print(f"latency, GET page:     {percentiles(latencies['GET'])}")
    print(f"latency, POST answers: {percentiles(latencies['POST'])}")
    if done:
        server, database, client = (1000 * (b - a) / done for a, b in zip(before, after, strict=True))
        total = server + database + client
        print(f"CPU per submission:    gunicorn {server:.1f} ms, PostgreSQL {database:.1f} ms, "
              f"load client {client:.1f} ms (wall time per submission x cores: {os.cpu_count() * 1000 * elapsed / done:.1f} ms)")
        # Wall-clock figures depend on what else runs; CPU per submission much less so.
        print(f"CPU-bound capacity:    {os.cpu_count() * 1000 / total:.1f} submissions/s on {os.cpu_count()} cores "
              f"at {total:.1f} ms CPU per submission (client included)")
    print(f"machine: {load_before} before the run, {load_after} after")
    if errors:
        print(f"failed requests: {len(errors)} ({', '.join(sorted(set(errors)))})")
    stored, duplicated, missing = check_answers(study_id, wave_id, done + len(warm))
    print(f"answers: {stored} stored for {done + len(warm)} completed submissions x {ITEMS} items; "
          f"duplicated {duplicated}, lost {missing}")
    if args.profile:
        profile_in_process(profile_secrets)
    return 0 if not errors and duplicated == 0 and missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
