"""Research exports of a study's answers: long or wide, as CSV, Parquet, SPSS .sav or Stata .dta,
with a codebook (JSON or CSV) that carries the provenance.

Memory does not grow with the study for CSV and Parquet:
- long CSV on PostgreSQL is PostgreSQL's own `COPY (SELECT ...) TO STDOUT` streamed through
  psycopg in blocks; elsewhere (SQLite) the same SELECT is read in chunks and written by Python;
- long Parquet reads that CSV stream with pyarrow's streaming CSV reader and writes one row
  group per block of record batches, draining the bytes as they are written;
- wide rows are built participant by participant from a server-side cursor ordered by
  participant.
SPSS and Stata files are written by pyreadstat from one data frame (pyreadstat cannot append),
through a temporary file that is streamed and deleted; their memory grows with the export.

Previews never appear; excluded and withdrawn participants appear only with
`include_excluded` (and then with a `status` column).
"""

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.db import connection
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.pipeline.provenance import CODE_VERSION
from analysis.planning import plan_of
from common import csvsafe, fastsql, formats, group_keys
from surveys import groups
from surveys.kinds import MISSING_CODES, kind_of
from surveys.logic import describe as describe_condition
from surveys.models import (
    Arm,
    Exclusion,
    Item,
    Participant,
    Response,
    Study,
    Submission,
    Wave,
    translate,
)
from surveys.spec.service import design_change_log

CHUNK_BYTES = 1 << 18  # bytes per streamed block
PARQUET_BLOCK = 2 << 20  # bytes of CSV per Parquet row group (~30,000 rows; bigger blocks cost memory)
FETCH_ROWS = 10_000  # rows per fetch from a cursor
WIDE_BATCH = 2_000  # participants per written block of the wide shape
STATA_NAME_LIMIT = 32
STATA_STRING_LIMIT = 2045

SHAPES = ("long", "wide")
RESERVED = {"participant", "external_id", "wave", "item", "value", "text", "missing", "answered_at",
            "response_time_ms", "arm", "status"}


class ExportError(ValueError):
    """A request that cannot be exported (e.g. a variable name Stata refuses); the message says why."""


@dataclass
class ExportSpec:
    """What to export: validated by the API layer."""

    study: Study
    shape: str = "long"
    waves: list[int] | None = None
    arms: list[str] | None = None
    items: list[str] | None = None
    group: tuple[str, str] | None = None  # (code or "arm", value)
    include_excluded: bool = False
    include_external_id: bool = False
    language: str = ""
    grouping: list[Item] = field(default_factory=list)

    def __post_init__(self):
        self.language = self.language or self.study.default_language
        if not self.grouping:
            self.grouping = list(Item.objects.filter(study=self.study, role=Item.Role.GROUPING).order_by("order", "id"))

    def group_column(self, code: str) -> str:
        return f"group_{code}" if code in RESERVED else code

    def parameters(self) -> dict:
        return {"shape": self.shape, "wave": self.waves, "arm": self.arms, "item": self.items,
                "group": group_keys.single(*self.group) if self.group else None, "include_excluded": self.include_excluded,
                "include_external_id": self.include_external_id, "language": self.language}


# --- SQL ------------------------------------------------------------------------------------------


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _group_sql(code: str) -> tuple[str, list]:
    if _postgres():
        return "(p.groups ->> %s)", [code]
    return "CAST(json_extract(p.groups, %s) AS TEXT)", [f'$."{code}"']


def _where(spec: ExportSpec) -> tuple[str, list]:
    clauses, params = ["p.study_id = %s", "w.study_id = %s", "NOT p.is_preview"], [spec.study.pk, spec.study.pk]
    if not spec.include_excluded:
        clauses.append("p.withdrawn_at IS NULL")
        clauses.append(f"NOT EXISTS (SELECT 1 FROM {fastsql.table(Exclusion)} e WHERE e.participant_id = p.id"
                       " AND e.lifted_at IS NULL)")
    for column, values in (("w.number", spec.waves), ("a.name", spec.arms), ("i.code", spec.items)):
        if values:
            clauses.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)
    if spec.group:
        code, value = spec.group
        if code == group_keys.ARM:
            clauses.append("a.name = %s")
            params.append(value)
        else:
            expression, extra = _group_sql(code)
            clauses.append(f"{expression} = %s")
            params.extend([*extra, value])
    return " AND ".join(clauses), params


FROM = (f"FROM {fastsql.table(Response)} r"
        f" JOIN {fastsql.table(Submission)} s ON s.id = r.submission_id"
        f" JOIN {fastsql.table(Participant)} p ON p.id = s.participant_id"
        f" JOIN {fastsql.table(Wave)} w ON w.id = s.wave_id"
        f" JOIN {fastsql.table(Item)} i ON i.id = r.item_id"
        f" LEFT JOIN {fastsql.table(Arm)} a ON a.id = p.arm_id")

STATUS_SQL = ("CASE WHEN p.withdrawn_at IS NOT NULL THEN 'withdrawn'"
              f" WHEN EXISTS (SELECT 1 FROM {fastsql.table(Exclusion)} e WHERE e.participant_id = p.id"
              " AND e.lifted_at IS NULL) THEN 'excluded' ELSE 'active' END")


def long_columns(spec: ExportSpec) -> list[str]:
    columns = ["participant"]
    if spec.include_external_id:
        columns.append("external_id")
    columns += ["wave", "item", "value", "text", "missing", "answered_at", "response_time_ms", "arm"]
    columns += [spec.group_column(item.code) for item in spec.grouping]
    if spec.include_excluded:
        columns.append("status")
    return columns


def long_sql(spec: ExportSpec, *, formatted: bool, neutralized: bool = False) -> tuple[str, list]:
    """The SELECT of the long shape, columns as `long_columns`. `formatted`: timestamps as
    ISO 8601 text (UTC, milliseconds), as COPY writes them. `neutralized` (PostgreSQL): text
    columns through `csvsafe.neutralize_sql`, for a CSV that COPY writes."""
    safe = csvsafe.neutralize_sql if neutralized and _postgres() else (lambda expression: expression)
    if formatted and _postgres():
        answered = """to_char(r.answered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
    elif formatted:
        answered = "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', r.answered_at)"
    else:
        answered = "r.answered_at"
    select, params = ['p.public_id AS "participant"'], []
    if spec.include_external_id:
        select.append(f'{safe("p.external_id")} AS "external_id"')
    select += ['w.number AS "wave"', f'{safe("i.code")} AS "item"', 'r.value AS "value"', f'{safe("r.text")} AS "text"',
               'r.missing AS "missing"', f'{answered} AS "answered_at"', 'r.response_time_ms AS "response_time_ms"',
               f'{safe("a.name")} AS "arm"']
    for item in spec.grouping:
        expression, extra = _group_sql(item.code)
        select.append(f'{safe(expression)} AS "{spec.group_column(item.code)}"')
        params.extend(extra)
    if spec.include_excluded:
        select.append(f'{STATUS_SQL} AS "status"')
    where, where_params = _where(spec)
    order = 'p.id, w.number, i."order", i.id'
    return f"SELECT {', '.join(select)} {FROM} WHERE {where} ORDER BY {order}", params + where_params


# --- Streams ----------------------------------------------------------------------------------------


def _number(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rebuffer(blocks: Iterable[bytes], size: int | None = None) -> Iterator[bytes]:
    """Blocks of at least `size` bytes (the last may be shorter), each a whole number of input blocks."""
    size = size or CHUNK_BYTES
    buffer = bytearray()
    for block in blocks:
        buffer += block
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def _fetch(sql: str, params: list) -> Iterator[tuple]:
    """Rows of a query in chunks from a server-side cursor (PostgreSQL) or SQLite's lazy cursor."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows


def _csv_blocks(header: list[str], rows: Iterable[Iterable], *, neutralized: bool = True) -> Iterator[bytes]:
    """CSV bytes in blocks of whole rows; `neutralized`: through the formula-neutralizing writer
    (every CSV a person may open; only the Parquet path reads the raw text)."""
    text = io.StringIO()
    writer = csvsafe.writer(text) if neutralized else csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if text.tell() >= CHUNK_BYTES:
            yield text.getvalue().encode()
            text.seek(0)
            text.truncate()
    if text.tell():
        yield text.getvalue().encode()


def long_csv_stream(spec: ExportSpec, *, neutralized: bool = True) -> Iterator[bytes]:
    """The long shape as CSV bytes with a header row, in blocks of about CHUNK_BYTES; text cells
    neutralized for spreadsheets (`common.csvsafe`) unless `neutralized` is False (Parquet)."""
    sql, params = long_sql(spec, formatted=True, neutralized=neutralized)
    if _postgres():
        yield from _copy_stream(sql, params)
        return
    value_at = long_columns(spec).index("value")
    rows = ([*row[:value_at], _number(row[value_at]), *row[value_at + 1:]] for row in _fetch(sql, params))
    yield from _csv_blocks(long_columns(spec), rows, neutralized=neutralized)


def _copy_stream(sql: str, params: list) -> Iterator[bytes]:
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", params) as copy:
            yield from _rebuffer(copy)


class _Drain:
    """A write-only file whose bytes are taken away as soon as they are written."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def long_arrow_schema(spec: ExportSpec) -> pa.Schema:
    types = {"participant": pa.string(), "external_id": pa.string(), "wave": pa.int32(), "item": pa.string(),
             "value": pa.float64(), "text": pa.string(), "missing": pa.string(),
             "answered_at": pa.timestamp("ms", tz="UTC"), "response_time_ms": pa.int64(), "arm": pa.string(),
             "status": pa.string()}
    return pa.schema([(name, types.get(name, pa.string())) for name in long_columns(spec)])


def long_parquet_stream(spec: ExportSpec, codebook: dict) -> Iterator[bytes]:
    """The long shape as Parquet, parsed from the CSV stream by pyarrow, one row group per
    PARQUET_BLOCK bytes of CSV. The CSV blocks end on row boundaries (COPY sends one row per
    message; the Python writer yields after whole rows), so each block parses on its own, in
    this thread: pyarrow never calls back into Django from one of its own threads."""
    schema = long_arrow_schema(spec).with_metadata({"disagreement.codebook": json.dumps(codebook, default=str)})
    convert = pa_csv.ConvertOptions(column_types={f.name: f.type for f in schema},
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)

    def batches():
        first = True
        for block in _rebuffer(long_csv_stream(spec, neutralized=False), PARQUET_BLOCK):
            read = pa_csv.ReadOptions(column_names=schema.names, skip_rows=1 if first else 0, use_threads=False,
                                      block_size=max(len(block) + 1, 1 << 20))
            first = False
            table = pa_csv.read_csv(io.BytesIO(block), read_options=read, convert_options=convert)
            yield from table.to_batches()

    yield from _parquet_from_batches(schema, batches())


def _parquet_from_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    sink = _Drain()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
                if data := sink.take():
                    yield data
    if data := sink.take():
        yield data


# --- Wide shape ---------------------------------------------------------------------------------


@dataclass
class WideColumn:
    name: str
    wave: int
    item: Item


def wide_variables(spec: ExportSpec) -> list[WideColumn]:
    """`<item>_w<wave>` for every (wave, item) with an answer in the export, waves then item order."""
    where, params = _where(spec)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT w.number, i.id {FROM} WHERE {where}", params)
        pairs = cursor.fetchall()
    items = {item.pk: item for item in Item.objects.filter(pk__in={pk for _n, pk in pairs})}
    pairs.sort(key=lambda pair: (pair[0], items[pair[1]].order, pair[1]))
    return [WideColumn(f"{items[pk].code}_w{number}", number, items[pk]) for number, pk in pairs]


def wide_header(spec: ExportSpec, variables: list[WideColumn]) -> list[str]:
    head = ["participant"] + (["external_id"] if spec.include_external_id else []) + ["arm"]
    head += [spec.group_column(item.code) for item in spec.grouping]
    head += ["status"] if spec.include_excluded else []
    return head + [v.name for v in variables]


def wide_rows(spec: ExportSpec, variables: list[WideColumn]) -> Iterator[list]:
    """One list per participant, columns as `wide_header`: numbers for numeric items (None for
    a missing code), the text for text items."""
    position = {(v.wave, v.item.code): k for k, v in enumerate(variables)}
    select = ["p.id", "p.public_id"] + (["p.external_id"] if spec.include_external_id else []) + ["a.name"]
    params: list = []
    for item in spec.grouping:
        expression, extra = _group_sql(item.code)
        select.append(expression)
        params.extend(extra)
    if spec.include_excluded:
        select.append(STATUS_SQL)
    select += ["w.number", "i.code", "r.value", "r.text"]
    where, where_params = _where(spec)
    sql = f"SELECT {', '.join(select)} {FROM} WHERE {where} ORDER BY p.id"
    n_head = len(select) - 5
    current, row = None, None
    for record in _fetch(sql, params + where_params):
        if record[0] != current:
            if row is not None:
                yield row
            current = record[0]
            row = [_group_value(v) for v in record[1:1 + n_head]] + [None] * len(variables)
        wave, code, value, text = record[-4:]
        slot = position.get((wave, code))
        if slot is not None:
            row[n_head + slot] = _number(value) if value is not None else (text or None)
    if row is not None:
        yield row


def _group_value(value):
    if isinstance(value, str):
        return value
    return _number(value)


def wide_csv_stream(spec: ExportSpec) -> Iterator[bytes]:
    variables = wide_variables(spec)
    yield from _csv_blocks(wide_header(spec, variables), wide_rows(spec, variables))


def wide_arrow_schema(spec: ExportSpec, variables: list[WideColumn]) -> pa.Schema:
    fields = [pa.field(name, pa.string()) for name in wide_header(spec, [])]
    fields += [pa.field(v.name, pa.float64() if kind_of(v.item).export.numeric else pa.string()) for v in variables]
    return pa.schema(fields)


def wide_parquet_stream(spec: ExportSpec, codebook: dict) -> Iterator[bytes]:
    variables = wide_variables(spec)
    schema = wide_arrow_schema(spec, variables).with_metadata(
        {"disagreement.codebook": json.dumps(codebook, default=str)})
    n_head = len(wide_header(spec, []))

    def batches():
        block: list[list] = []
        for row in wide_rows(spec, variables):
            block.append([None if v is None else str(v) for v in row[:n_head]] + row[n_head:])
            if len(block) == WIDE_BATCH:
                yield _wide_batch(schema, block)
                block = []
        if block:
            yield _wide_batch(schema, block)

    yield from _parquet_from_batches(schema, batches())


def _wide_batch(schema: pa.Schema, rows: list[list]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
                                      schema=schema)


# --- SPSS and Stata ------------------------------------------------------------------------------------


def _value_labels(item: Item, language: str) -> dict[float, str]:
    labels = {}
    for key, text in item.value_labels(language).items():
        try:
            labels[float(key)] = str(text)
        except (TypeError, ValueError):
            continue
    return labels


def statistical_frame(spec: ExportSpec):
    """The export as one data frame with variable and value labels (for pyreadstat)."""
    import pandas as pd

    group_labels = {spec.group_column(item.code): _value_labels(item, spec.language) for item in spec.grouping}
    column_labels = {name: LONG_LABELS.get(name, "") for name in long_columns(spec)}
    for item in spec.grouping:
        column_labels[spec.group_column(item.code)] = item.prompt_in(spec.language)
    value_labels: dict[str, dict] = {}
    if spec.shape == "long":
        sql, params = long_sql(spec, formatted=False)
        frame = pd.DataFrame.from_records(list(_fetch(sql, params)), columns=long_columns(spec))
        frame["answered_at"] = _naive_utc(frame["answered_at"])
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
        frame["wave"] = pd.to_numeric(frame["wave"]).astype("int64") if len(frame) else frame["wave"]
        frame["response_time_ms"] = pd.to_numeric(frame["response_time_ms"], errors="coerce").astype("float64")
    else:
        variables = wide_variables(spec)
        header = wide_header(spec, variables)
        frame = pd.DataFrame.from_records(list(wide_rows(spec, variables)), columns=header)
        column_labels = {name: column_labels.get(name, LONG_LABELS.get(name, "")) for name in wide_header(spec, [])}
        for variable in variables:
            column_labels[variable.name] = f"{variable.item.prompt_in(spec.language)} (wave {variable.wave})"[:255]
            export = kind_of(variable.item).export
            if not export.numeric:
                frame[variable.name] = frame[variable.name].fillna("").astype(str)
            else:
                frame[variable.name] = pd.to_numeric(frame[variable.name], errors="coerce").astype("float64")
                if export.value_labels and (labels := _value_labels(variable.item, spec.language)):
                    value_labels[variable.name] = labels
    for name, labels in group_labels.items():
        numeric = pd.to_numeric(frame[name], errors="coerce")
        if frame[name].notna().sum() == numeric.notna().sum():
            frame[name] = numeric.astype("float64")
            if labels:
                value_labels[name] = labels
        else:
            frame[name] = frame[name].fillna("").astype(str)
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].fillna("").astype(str)
    return frame, column_labels, value_labels


def _naive_utc(column):
    import pandas as pd

    stamps = pd.to_datetime(column, utc=True, format="ISO8601") if len(column) else pd.to_datetime(column)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None) if len(column) else stamps


LONG_LABELS = {
    "participant": "Pseudonymous participant id",
    "external_id": "External id (e.g. PROLIFIC_PID)",
    "wave": "Wave number",
    "item": "Item code",
    "value": "Answer on the item's scale",
    "text": "Free-text answer",
    "missing": "Missing code (dont_know, skipped, prefer_not, not_shown)",
    "answered_at": "Time of the answer (UTC)",
    "response_time_ms": "Response time (ms)",
    "arm": "Arm",
    "status": "Participant status (active, withdrawn, excluded)",
}


def statistical_file_stream(spec: ExportSpec, file_format: str) -> Iterator[bytes]:
    """A .sav or .dta file with variable and value labels, written to a temporary file by
    pyreadstat and streamed from it (the file is deleted before the first byte is sent)."""
    import pyreadstat

    frame, column_labels, value_labels = statistical_frame(spec)
    handle, path = tempfile.mkstemp(suffix=f".{file_format}")
    os.close(handle)
    try:
        if file_format == "sav":
            pyreadstat.write_sav(frame, path, column_labels=column_labels, variable_value_labels=value_labels)
        else:
            too_long = [name for name in frame.columns if len(name) > STATA_NAME_LIMIT]
            if too_long:
                raise ExportError(f"Stata allows variable names of at most {STATA_NAME_LIMIT} characters: "
                                  f"{', '.join(too_long)}; use shape=long or another format.")
            for name in frame.columns:
                if frame[name].dtype == object:
                    frame[name] = frame[name].str.slice(0, STATA_STRING_LIMIT)
            int_labels = {name: {int(k): v for k, v in labels.items() if float(k).is_integer()}
                          for name, labels in value_labels.items()}
            pyreadstat.write_dta(frame, path, column_labels=[column_labels.get(c, "")[:80] for c in frame.columns],
                                 variable_value_labels=int_labels, version=15)
        reader = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    finally:
        os.unlink(path)
    return _file_blocks(reader)


def _file_blocks(reader) -> Iterator[bytes]:
    with reader:
        while block := reader.read(CHUNK_BYTES):
            yield block


# --- Codebook --------------------------------------------------------------------------------------


def _run_summary(run: AnalysisRun | None) -> dict | None:
    if run is None:
        return None
    return {"id": run.pk, "kind": run.kind, "wave": run.wave.number if run.wave_id else None, "status": run.status,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "code_version": run.code_version, "fingerprint": run.fingerprint}


def provenance(spec: ExportSpec, *, user, file_format: str) -> dict:
    finished = (AnalysisRun.objects.filter(study=spec.study, status__in=[AnalysisRun.Status.DONE, AnalysisRun.Status.SKIPPED])
                .select_related("wave").order_by("-finished_at", "-id"))
    excluded = sorted(Exclusion.objects.filter(participant__study=spec.study, participant__is_preview=False,
                                               lifted_at__isnull=True).values_list("participant__public_id", flat=True))
    return {
        "code_version": CODE_VERSION,
        "generated_at": timezone.now().isoformat(),
        "generated_by": user.get_username(),
        "format": file_format,
        "parameters": spec.parameters(),
        "latest_indices_run": _run_summary(finished.filter(kind=AnalysisRun.Kind.INDICES).first()),
        "latest_effects_run": _run_summary(finished.filter(kind=AnalysisRun.Kind.EFFECTS).first()),
        "analysis_plan": _plan_summary(spec.study),
        "exclusions": {"count": len(excluded), "public_ids": excluded,
                       "applied": not spec.include_excluded,
                       "note": "Excluded and withdrawn participants are left out unless include_excluded=true; "
                               "preview participants never appear."},
    }


def _plan_summary(study) -> dict | None:
    """The analysis plan as frozen at launch (outcomes, contrasts, hash, time), None without one."""
    record = plan_of(study=study)
    return record.to_dict() if record is not None else None


def _item_entry(item: Item, language: str, waves: list[int]) -> dict:
    return {"code": item.code, "prompt": item.prompt_in(language), "prompts": item.prompt, "kind": item.kind,
            "role": item.role, "scale_min": item.scale_min, "scale_max": item.scale_max, "step": item.step,
            "k": item.k, "reverse_coded": item.reverse_coded, "dont_know": item.dont_know,
            "expected_answer": item.expected_answer, "prefer_not_to_say": item.prefer_not_to_say,
            "required": not item.is_optional, "unit": item.unit_in(language),
            "show_if": describe_condition(item.show_if), **_page_entry(item),
            "value_labels": {_label_key(k): v for k, v in item.value_labels(language).items()},
            "waves": waves, **_group_entry(item, language)}


def _group_entry(item: Item, language: str) -> dict:
    """A matrix statement's or multiple-choice option's question (surveys/groups.py)."""
    kind = groups.group_kind_of(item)
    if kind is None:
        return {"group": "", "group_kind": "", "group_prompt": ""}
    stem = translate(item.stem, language, item.study.default_language) if item.stem else ""
    return {"group": item.group, "group_kind": kind.value, "group_prompt": stem}


def _page_entry(item: Item) -> dict:
    """The item's listed page, that page's condition, and why the item may be not_shown."""
    page = next((p for p in item.study.page_order or [] if item.code in (p.get("items") or [])), {})
    page_if = describe_condition(page.get("show_if") or {})
    reasons = [f"its condition ({describe_condition(item.show_if)}) does not hold"] if item.show_if else []
    if page_if:
        reasons.append(f'the condition of its page "{page["name"]}" ({page_if}) does not hold')
    return {"page": page.get("name", ""), "page_show_if": page_if,
            "not_shown_when": "; or ".join(reasons)}


def _label_key(key) -> str:
    try:
        return str(_number(float(key)))
    except (TypeError, ValueError):
        return str(key)


def build_codebook(spec: ExportSpec, *, user, file_format: str) -> dict:
    """Variables (names, labels, value labels, scale, wave), items, waves, arms, grouping and
    provenance of an export."""
    language = spec.language
    items = list(Item.objects.filter(study=spec.study).order_by("order", "id").prefetch_related("waves"))
    waves = list(Wave.objects.filter(study=spec.study).order_by("number").prefetch_related("items"))
    arms = list(Arm.objects.filter(study=spec.study))
    item_entries = {item.code: _item_entry(item, language, sorted(w.number for w in item.waves.all()))
                    for item in items}
    variables = []

    def variable(name, label, kind, **extra):
        variables.append({"name": name, "label": label, "type": kind, "item": None, "wave": None,
                          "value_labels": {}, "missing_codes": [], **extra})

    if spec.shape == "long":
        for name in long_columns(spec):
            grouping = next((i for i in spec.grouping if spec.group_column(i.code) == name), None)
            if grouping is not None:
                variable(name, grouping.prompt_in(language), "categorical", item=grouping.code,
                         value_labels=item_entries[grouping.code]["value_labels"])
            else:
                kind = {"wave": "integer", "value": "number", "response_time_ms": "integer",
                        "answered_at": "datetime"}.get(name, "string")
                extra = {"missing_codes": list(MISSING_CODES)} if name == "missing" else {}
                variable(name, LONG_LABELS[name], kind, **extra)
    else:
        for name in wide_header(spec, []):
            grouping = next((i for i in spec.grouping if spec.group_column(i.code) == name), None)
            if grouping is not None:
                variable(name, grouping.prompt_in(language), "categorical", item=grouping.code,
                         value_labels=item_entries[grouping.code]["value_labels"])
            else:
                variable(name, LONG_LABELS[name], "string")
        for column in wide_variables(spec):
            entry = item_entries[column.item.code]
            variable(column.name, entry["prompt"], kind_of(column.item).export.type,
                     item=column.item.code, wave=column.wave, value_labels=entry["value_labels"],
                     group=entry["group"], group_prompt=entry["group_prompt"],
                     scale_min=column.item.scale_min, scale_max=column.item.scale_max, step=column.item.step,
                     reverse_coded=column.item.reverse_coded,
                     missing_codes=(list(MISSING_CODES) if column.item.is_numeric else []),
                     note="A missing code (don't know, skipped, prefer not to say, not shown) is empty here; "
                          "the long shape keeps it.")
    return {
        "study": {"slug": spec.study.slug, "title": spec.study.title, "description": spec.study.description,
                  "status": spec.study.status, "languages": spec.study.languages, "language": language,
                  "primary_outcome": spec.study.primary_outcome},
        "shape": spec.shape,
        "variables": variables,
        "items": list(item_entries.values()),
        "waves": [{"number": w.number, "opens_at": w.opens_at.isoformat(), "closes_at": w.closes_at.isoformat(),
                   "state": w.state, "items": [i.code for i in w.items.all()]} for w in waves],
        "arms": [{"name": a.name, "is_control": a.is_control, "allocation_weight": a.allocation_weight} for a in arms],
        "grouping": [{"code": i.code, "column": spec.group_column(i.code), "prompt": i.prompt_in(language),
                      "value_labels": item_entries[i.code]["value_labels"]} for i in spec.grouping],
        "design_changes": design_change_log(spec.study),
        "provenance": provenance(spec, user=user, file_format=file_format),
    }


CODEBOOK_CSV_COLUMNS = ["section", "name", "label", "type", "item", "wave", "scale_min", "scale_max", "step",
                        "reverse_coded", "value_labels", "missing_codes", "group", "group_prompt"]


def codebook_csv(codebook: dict) -> str:
    """One row per variable, then `provenance` rows (name = key, label = value)."""
    text = io.StringIO()
    writer = csvsafe.DictWriter(text, CODEBOOK_CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for entry in codebook["variables"]:
        row = {**entry, "section": "variable",
               "value_labels": "; ".join(f"{k}={v}" for k, v in entry["value_labels"].items()),
               "missing_codes": "; ".join(entry["missing_codes"])}
        writer.writerow(row)
    for change in codebook.get("design_changes", []):
        writer.writerow({"section": "design_change", "name": change["path"],
                         "label": f"{json.dumps(change['before'], ensure_ascii=False)} -> "
                                  f"{json.dumps(change['after'], ensure_ascii=False)} "
                                  f"({change['by'] or 'unknown'}, {change['source']}, {change['changed_at']})"})
    for key, value in _flatten(codebook["provenance"]):
        writer.writerow({"section": "provenance", "name": key, "label": value})
    return text.getvalue()


def _flatten(value, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        yield prefix, json.dumps(value)
    else:
        yield prefix, "" if value is None else str(value)


# --- Entry point --------------------------------------------------------------------------------------


def export_stream(spec: ExportSpec, *, file_format: str, user) -> Iterator[bytes]:
    """The export's bytes. Errors that depend on the data (ExportError) are raised before the
    first byte for .sav/.dta; CSV and Parquet never raise them."""
    if file_format == "csv":
        return long_csv_stream(spec) if spec.shape == "long" else wide_csv_stream(spec)
    if file_format == "parquet":
        codebook = build_codebook(spec, user=user, file_format=file_format)
        return long_parquet_stream(spec, codebook) if spec.shape == "long" else wide_parquet_stream(spec, codebook)
    if file_format in ("sav", "dta"):
        return statistical_file_stream(spec, file_format)
    raise ExportError(f"Unknown format {file_format!r}.")


def export_filename(spec: ExportSpec, file_format: str, stamp: dt.datetime | None = None) -> str:
    stamp = stamp or timezone.now()
    extension = formats.DATA_EXPORT.get(file_format).extension
    return f"{spec.study.slug}_{spec.shape}_{stamp:%Y%m%dT%H%M%SZ}.{extension}"
