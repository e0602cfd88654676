"""A simulated panel written straight into PostgreSQL for the benchmarks (no Django import).

`load_panel(cursor, ...)` fills `surveys_participant`, `surveys_participanttoken`,
`surveys_submission` and `surveys_response` of one study with `INSERT ... SELECT
generate_series(...)`: the rows are made inside the server, so 100,000 participants x 20 waves x
10 items (20 million answers) load in minutes instead of the better part of an hour that a Python
loop feeding COPY took. Seeded (`setseed`), so the same arguments give the same panel.

The panel: participants split at random between two sides (the grouping item, `groups` =
`{"<grouping code>": 1 | 2}`) and the arms; each holds a latent position that drifts apart
between the sides wave by wave (intervention arms drift back from the intervention wave on);
answers are that position plus noise on a 1..7 scale (reverse-coded items flipped), 2% "don't
know"; 2% attrition per wave and 3% of waves skipped; 2% of submissions left unfinished; 1% of
submissions straight-lined, 3% fast, 5% failing the attention check.

Rows are written around the write path, so the panel counts it keeps must be counted once
afterwards (`surveys.summaries.recount_study`, as `manage.py recount_panel` does after a restore).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PanelDesign:
    study_id: int
    consent_id: int
    arm_ids: tuple[int, ...]  # the control first
    waves: tuple[tuple[int, int], ...]  # (wave id, number)
    items: tuple[tuple[int, bool], ...]  # attitude items: (item id, reverse coded)
    grouping_code: str = "side"
    attention_id: int | None = None  # the attention check (expected answer 3)
    intervention_wave: int = 5


def load_panel(cursor, design: PanelDesign, *, participants: int, seed: float = 0.42,
               attrition: float = 0.02, dont_know: float = 0.02, skipped: float = 0.03) -> dict[str, int]:
    """Write the panel with `cursor` (psycopg or a Django cursor on PostgreSQL, inside one
    transaction is best); returns row counts. `attrition`: share dropping out per wave;
    `skipped`: share of waves a participant still in the panel skips; `dont_know`: share of
    "don't know" answers (0, 0, 0: every participant answers every item of every wave)."""
    execute = cursor.execute
    execute("SELECT setseed(%s)", [seed])
    execute("DROP TABLE IF EXISTS bench_people")
    # Latent position, side, arm and the last wave each participant reaches (2% drop out per wave).
    execute(
        "CREATE TEMP TABLE bench_people AS SELECT g, 1 + (random() < 0.5)::int AS side,"
        " floor(random() * %s)::int AS arm_index,"
        " sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS latent,"
        " least(%s, 1 + floor(ln(1 - random()) / ln(1 - least(%s::float, 0.999999))))::int AS last_wave,"
        " random() < 0.01 AS withdraws"
        " FROM generate_series(1, %s) AS g",
        [len(design.arm_ids), len(design.waves), max(attrition, 1e-12), participants])
    execute(
        "INSERT INTO surveys_participant (study_id, public_id, external_id, external_study_id, arm_id, language,"
        " groups, joined_at, consented_at, consent_version_id, assigned_at, is_preview, link_opened_at, join_key,"
        " withdrawn_at)"
        " SELECT %(study)s, 'B' || %(study)s || '-' || g, '', '', (%(arms)s::bigint[])[arm_index + 1], 'en',"
        " jsonb_build_object(%(code)s::text, side), t, t, %(consent)s, t, false, t, '',"
        " CASE WHEN withdraws THEN t + interval '1 week' * last_wave END"
        " FROM (SELECT *, now() - interval '30 weeks' + interval '1 second' * g AS t FROM bench_people) AS p",
        {"study": design.study_id, "arms": list(design.arm_ids), "code": design.grouping_code,
         "consent": design.consent_id})
    execute("ALTER TABLE bench_people ADD COLUMN pid bigint")
    execute("UPDATE bench_people SET pid = p.id FROM surveys_participant p"
            " WHERE p.study_id = %s AND p.public_id = 'B' || %s || '-' || g", [design.study_id, design.study_id])
    execute("INSERT INTO surveys_participanttoken (participant_id, token_hash, created_at, grants_data_access)"
            " SELECT pid, encode(sha256(('bench-' || pid)::bytea), 'hex'), now(), true FROM bench_people")
    execute("DROP TABLE IF EXISTS bench_waves")
    execute("CREATE TEMP TABLE bench_waves (wave_id bigint, number int, opens_at timestamptz)")
    execute("INSERT INTO bench_waves SELECT w.id, w.number, w.opens_at FROM surveys_wave w WHERE w.id = ANY(%s)",
            [[wave_id for wave_id, _n in design.waves]])
    # One submission per participant and wave reached, 3% skipped; 2% unfinished; 3% fast.
    execute("DROP TABLE IF EXISTS bench_subs")
    execute(
        "CREATE TEMP TABLE bench_subs AS SELECT p.pid, p.side, p.arm_index, p.latent, w.wave_id, w.number,"
        " w.opens_at + interval '1 minute' * floor(random() * 7200) AS started,"
        " random() < 0.02 AS unfinished, random() < 0.01 AS straight, random() < 0.05 AS careless,"
        " CASE WHEN random() < 0.03 THEN 30 + 20 * random()"
        " ELSE exp(ln(180) + 0.4 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END AS duration"
        " FROM bench_people p JOIN bench_waves w ON w.number <= p.last_wave WHERE random() >= %s", [skipped])
    execute(
        "INSERT INTO surveys_submission (participant_id, wave_id, started_at, completed_at, duration_seconds,"
        " item_order, page, saw_intervention, user_agent_family, external_session_id)"
        " SELECT pid, wave_id, started, CASE WHEN unfinished THEN NULL ELSE started + interval '1 second' * duration END,"
        " CASE WHEN unfinished THEN NULL ELSE duration END, '[]', 0, false, 'Firefox', '' FROM bench_subs")
    execute("ALTER TABLE bench_subs ADD COLUMN sid bigint")
    execute("UPDATE bench_subs b SET sid = s.id FROM surveys_submission s"
            " WHERE s.participant_id = b.pid AND s.wave_id = b.wave_id")
    # Answers: the sides drift apart by 0.04 per wave; intervention arms drift back after the
    # intervention. Straight-liners give every item one answer.
    execute("DROP TABLE IF EXISTS bench_items")
    execute("CREATE TEMP TABLE bench_items (item_id bigint, reverse boolean)")
    execute("INSERT INTO bench_items SELECT unnest(%s::bigint[]), unnest(%s::boolean[])",
            [[i for i, _r in design.items], [r for _i, r in design.items]])
    execute(
        "INSERT INTO surveys_response (submission_id, item_id, value, text, missing, response_time_ms, answered_at)"
        " SELECT sid, item_id, CASE WHEN dk THEN NULL ELSE v END, '', CASE WHEN dk THEN 'dont_know' ELSE '' END,"
        " 2000 + floor(random() * 8000)::int, started"
        " FROM (SELECT s.sid, i.item_id, s.started, random() < %(dk)s AND NOT s.straight AS dk,"
        "  CASE WHEN s.straight THEN 4 ELSE greatest(1, least(7, round(4 + (CASE WHEN i.reverse THEN -1 ELSE 1 END)"
        "   * (0.8 * s.latent + (2 * s.side - 3) * (0.4 + 0.04 * s.number"
        "      - CASE WHEN s.arm_index > 0 AND s.number >= %(iw)s THEN 0.03 * (s.number - %(iw)s + 1) ELSE 0 END))"
        "   + 0.9 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))) END AS v"
        "  FROM bench_subs s CROSS JOIN bench_items i) AS a",
        {"dk": dont_know, "iw": design.intervention_wave})
    if design.attention_id is not None:
        execute(
            "INSERT INTO surveys_response (submission_id, item_id, value, text, missing, answered_at)"
            " SELECT sid, %s, CASE WHEN careless THEN 4 + floor(random() * 4) ELSE 3 END, '', '', started"
            " FROM bench_subs", [design.attention_id])
    execute("SELECT count(*) FROM bench_subs")
    submissions = cursor.fetchone()[0]
    counts = {"participants": participants, "submissions": submissions,
              "answers": submissions * (len(design.items) + (design.attention_id is not None))}
    for table in ("bench_subs", "bench_items", "bench_waves", "bench_people"):
        execute(f"DROP TABLE {table}")
    execute("ANALYZE")  # the design tables too: a few rows each, never analysed by autovacuum
    return counts
