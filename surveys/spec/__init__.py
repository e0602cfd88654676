"""Study specifications ("study-as-code"): one YAML or JSON file per study design.

- `sections`: the registry of top-level sections (schema fragment, export, checks, apply,
  refusals); a new part of a study joins with one `register(...)`;
- `schema`: the JSON Schema assembled from the registry;
- `validate`: the schema (through `jsonschema`) and the cross-section rules, with paths;
- `io`: YAML/JSON reading and canonical writing;
- `service`: export, diff, apply (create or update, refusals, the design change log);
- `bank`: the built-in item bank.

The format is documented in docs/building-a-study.md.
"""
