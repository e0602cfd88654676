"""Benchmark: peak memory and time of a study's effects run (`compute_study_effects`).

    python bench/effects_memory.py --database-url postgres://postgres@127.0.0.1:5432/DB
        [--study bench] [--bootstrap 1000] [--permutations 1000] [--stages]

Runs the service a Celery worker runs for a study's effects (`compute_study_effects`) in a
fresh process on a database that already holds a study (bench/dashboard.py builds one:
20 waves x 10 items x 3 arms x 2 groups) and prints its wall and CPU time and its peak memory
(VmHWM from /proc, which starts afresh at exec), with the resident memory after Django start-up.
`--bootstrap` / `--permutations` replace the pipeline's 1000 / 1000 for this run (fewer build
quickly; the memory of the resampling weights grows with them). `--stages` also prints the
peak resident memory reached inside each stage (reading the answers, building the panel, each
arm's comparison, storing), sampled every 10 ms. Earlier effects runs of the study are deleted
first (else an unchanged study is a skip): use it on a copy or a benchmark database.
Prints figures; asserts nothing about time or memory.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline import memory_mb, peak_rss_mb  # noqa: E402


class _Sampler(threading.Thread):
    """(time, VmRSS) every 10 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = False

    def run(self):
        while not self.stop:
            self.samples.append((time.perf_counter(), memory_mb("VmRSS")))
            time.sleep(0.01)

    def peak(self, start: float, end: float) -> float:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0.0)


def _staged(sampler: _Sampler, stages: list):
    """Wrap the effects run's stages so each reports the peak resident memory it reached."""
    from analysis.pipeline import effects as service
    from analysis.pipeline import inputs
    from analysis.stats.effects import estimate as estimate_module
    from analysis.stats.effects import twfe

    def wrap(module, name, label):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stages.append((label, t0, time.perf_counter()))

        setattr(module, name, wrapper)

    wrap(service, "read_study_inputs", "read the inputs (state)")
    wrap(inputs, "study_answers_frame", "  read every wave's answers")
    wrap(service, "estimate_effects", "estimate_effects (panel, every comparison)")
    wrap(estimate_module, "_build_panel", "  build the panel")
    wrap(estimate_module, "_comparison", "  draw one comparison's weights")
    wrap(estimate_module, "_count_tables", "  count tables of one comparison")
    wrap(estimate_module, "_constraint_rows", "  constraint of one comparison")
    wrap(estimate_module, "_index_rows", "  index DiD of one item")
    wrap(estimate_module, "_twfe_rows", "  TWFE of one item and outcome")
    wrap(twfe, "_fill_twfe_ri", "  TWFE randomization products")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--study", default="bench", help="slug of the study (default: bench)")
    parser.add_argument("--bootstrap", type=int, default=None, help="resamples (default: the pipeline's)")
    parser.add_argument("--permutations", type=int, default=None, help="re-randomizations (default: the pipeline's)")
    parser.add_argument("--stages", action="store_true", help="peak memory per stage")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or DATABASE_URL) names the database that holds the study")
    env = dict(os.environ, DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="disagreement.settings")
    env.pop("CELERY_BROKER_URL", None)
    if not args.child:
        # The run in a fresh process, as in a worker, so its peak memory is its own.
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child"], check=True, env=env)
        return
    import django

    django.setup()
    from analysis.models import AnalysisRun, EffectEstimate
    from analysis.pipeline import effects as service
    from analysis.pipeline import provenance
    from surveys.models import Study

    overrides = {key: value for key, value in (("bootstrap", args.bootstrap), ("permutations", args.permutations))
                 if value is not None}
    if overrides:
        parameters = {**provenance.EFFECT_PARAMETERS, **overrides}
        provenance.EFFECT_PARAMETERS.update(parameters)
        service.EFFECT_PARAMETERS.update(parameters)
    study = Study.objects.get(slug=args.study)
    AnalysisRun.objects.filter(study=study, kind=AnalysisRun.Kind.EFFECTS).delete()
    sampler, stages = _Sampler(), []
    if args.stages:
        sampler.start()
        _staged(sampler, stages)
    rss_before = memory_mb("VmRSS")
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = service.compute_study_effects(study_id=study.pk)
    total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    sampler.stop = True
    print(f"effects of study {args.study!r} ({study.participants.count():,} participants, "
          f"{study.waves.count()} waves; bootstrap {provenance.EFFECT_PARAMETERS['bootstrap']}, "
          f"permutations {provenance.EFFECT_PARAMETERS['permutations']}): {total:.1f} s, {cpu:.1f} s CPU, "
          f"status {run.status}, {EffectEstimate.objects.filter(study=study).count():,} rows")
    print(f"peak memory of the worker process: {peak_rss_mb():.0f} MB (resident after Django start-up: "
          f"{rss_before:.0f} MB)")
    if args.stages:
        seen: dict[str, list] = {}
        for label, start, end in stages:
            entry = seen.setdefault(label, [0.0, 0.0, 0])
            entry[0] = max(entry[0], sampler.peak(start, end))
            entry[1], entry[2] = entry[1] + end - start, entry[2] + 1
        for label, (peak, seconds, calls) in seen.items():
            print(f"  {label:48s} peak {peak:7.0f} MB  {seconds:7.1f} s  ({calls} calls)")


if __name__ == "__main__":
    main()
