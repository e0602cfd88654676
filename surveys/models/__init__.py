"""Study design and data collection, one module per part of a study:

- `study`: studies, members and roles, consent texts;
- `design`: items, waves, arms, interventions;
- `participants`: participants, their personal links, allocation blocks;
- `answers`: submissions, responses, exclusions;
- `messaging`: contact data, message templates, messages, data deletions;
- `access`: personal API tokens and the export audit log;
- `summaries`: counts per study, wave and arm, and per grouping answer, that the write path keeps
  (the overview pages, the quotas);
- `base`: translated texts and shared validators.

Study content that participants read (prompts, labels, consent, interventions) is stored per
language as a JSON object ``{"en": "...", "de": "..."}``; `Study.languages` lists the languages a
study offers, the first being its default. Invariants that one row can hold are database
constraints; the two that span tables (an answer lies on its item's scale, a scale is frozen once
answered) are enforced by triggers installed in migration 0002, and checked again in Python so
the error a researcher sees is readable. Every name is re-exported here: import from
`surveys.models`.
"""

from surveys.models.access import (  # noqa: F401
    API_TOKEN_PREFIX,
    ApiToken,
    ApiTokenQuerySet,
    ExportAudit,
)
from surveys.models.answers import (  # noqa: F401
    Exclusion,
    Response,
    Submission,
)
from surveys.models.base import (  # noqa: F401
    ITEM_CODE_RE,
    PROLIFIC_COMPLETION_URL,
    SLUG_HELP,
    default_languages,
    default_reminder_delays,
    translate,
    validate_item_code,
    validate_translations,
)
from surveys.models.changes import DesignChange  # noqa: F401
from surveys.models.design import (  # noqa: F401
    Arm,
    Intervention,
    Item,
    Wave,
    WaveQuerySet,
)
from surveys.models.messaging import (  # noqa: F401
    MESSAGE_KINDS,
    DataDeletion,
    Message,
    MessageTemplate,
    ParticipantContact,
)
from surveys.models.participants import (  # noqa: F401
    AllocationBlock,
    Participant,
    ParticipantQuerySet,
    ParticipantToken,
    hash_secret,
    new_public_id,
)
from surveys.models.study import (  # noqa: F401
    ConsentVersion,
    Membership,
    Study,
)
from surveys.models.summaries import (  # noqa: F401
    PanelCount,
    StratumCount,
)
