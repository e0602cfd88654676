"""From a wave's answers to stored results, one module per job:

- `inputs`: a wave's (or a study's) inputs, each read once (`WaveInputs`, `StudyInputs`);
- `provenance`: parameters, code version, seeds and input fingerprints (no database);
- `runs`: the life of an `AnalysisRun`, the same for every kind of result;
- `enqueue`: the one module that sends the pipeline's tasks (by name), and the periodic sweep;
- `indices`, `effects`: compute and store one kind of result (`text`: the free-text indices);
- `dashboard_store`: the dashboard tables stored with each wave's indices;
- `state`: the state of the computations, for /healthz and the overview.
"""
