r"""A generative model of a longitudinal disagreement panel with a known truth.

`simulate_panel(spec, seed=...)` draws participants, arms, latent attitudes, item answers,
"don't know" answers, attrition and free-text answers. It feeds the demo study (`seed_demo`)
and the simulation studies that check effect estimators and power analysis, so every
parameter that generated the data comes back in `SimulatedPanel.truth`.

Pure numpy/pandas/scipy; no Django.

Model
-----
Indices: participant i = 1..n, wave t = 1..W, item j, group g(i) in {A, B} (`spec.groups`,
A listed first), arm a(i). One unit of the latent scale is the between-person standard
deviation of the persistent attitude within a group ("latent SD").

Latent hostility toward the other side (higher = more hostile, more affective distance)::

    eta_it   = mu_g(t) + tau_a(t) + u_i + s_it
    u_i      ~ N(0, 1)                    persistent person component
    s_it     ~ N(0, state_sd^2)           wave-to-wave fluctuation of the person
    mu_A(t)  = trend_per_wave * (t - 1) + gap(t) / 2
    mu_B(t)  = trend_per_wave * (t - 1) - gap(t) / 2
    gap(t)   = initial_group_gap + divergence_per_wave * (t - 1)

so the latent group gap mu_A - mu_B grows by `divergence_per_wave` each wave (polarization
trend) while both groups drift by `trend_per_wave`. `participants.latent0` is the persistent
attitude at wave 1, mu_g(1) + u_i (without s_i1).

Intervention, in latent SD units (negative = it lowers hostility)::

    tau_a(t) = effect_a * effect_decay ** (t - V)   for t >= V = intervention_wave
    tau_a(t) = 0                                    for t < V, and always for the control arm

with effect_a = `effect` for every non-control arm unless `arm_effects` names another value.
`effect_decay` = 1 keeps the effect constant; 0.5 halves it every wave after V. The effect is
already present in the answers of wave V (the intervention is shown before that wave's items).

Numeric item j (likert or slider) with scale [lo_j, hi_j], step h_j, midpoint m_j, range
R_j = hi_j - lo_j and r_j = R_j / 6::

    y*_ijt = m_j + r_j * (intercept_j + loading_j * eta_it + noise_sd * e_ijt),  e ~ N(0, 1)
    y_ijt  = clip(lo_j + h_j * floor((y*_ijt - lo_j) / h_j + 1/2), lo_j, hi_j)

Dividing the range by 6 makes a 7-point item move by `loading` scale points per latent SD
(and a 0-100 thermometer by 16.7 * loading points), so `intercept`, `loading` and `noise_sd`
read as scale points on a 7-point item whatever the item's own scale. A negative loading is
a reverse-coded item (agreeing means less hostile). The linear effect of an arm on item j in
the item's own units is therefore::

    effect_in_item_units_j = loading_j * r_j * effect

`truth["expected_effects"]` also gives the exact effect on the expected answer after rounding
and clipping: within a (wave, group, arm) cell y* is normal with mean
m_j + r_j (intercept_j + loading_j (mu_g(t) + tau_a(t))) and standard deviation
r_j sqrt(loading_j^2 (1 + state_sd^2) + noise_sd^2), and
E[y] = lo + h * sum_{k=1..K} Phi((E[y*] - lo - (k - 1/2) h) / sd(y*)).

"Don't know": an item with `dont_know_rate` > 0 offers it; each answer independently is
"don't know" with that probability, stored as value NaN with `missing` True (never a scale
value). The choice is unrelated to the latent (missing completely at random).

Attrition is monotone: everyone answers wave 1; after each answered wave a participant of
arm a drops out for good with probability p_a (`attrition_per_wave`, or the arm's value in
`attrition_by_arm`), independently of the latent. P(last_wave >= t) = (1 - p_a)^(t - 1).

Arms: `assignment="stratified"` (default) randomizes within each group a shuffled list whose
arm counts follow the weights exactly up to rounding (largest remainder; the leftover
places are drawn with probabilities proportional to the remainders). `"simple"` draws each
participant's arm independently with probabilities weight / sum(weights). Group membership
is an independent Bernoulli(`group_share`) draw for group A.

Free text (kind "text"): one short sentence per participant-wave from fixed templates with
three word slots (two adjectives, one verb). Each slot is independently negative with
probability::

    p_it = 1 / (1 + exp(-(intercept_j + loading_j * eta_it)))

and then takes a word drawn uniformly from `TEXT_NEGATIVE_WORDS` (else from
`TEXT_NEUTRAL_WORDS`) of the slot's part of speech. The share of negative bank words thus
tracks the latent, and any sentiment lexicon that scores those words tracks it too. For a
text item `dont_know_rate` is the probability that the participant leaves it empty (no
row). Texts are English.

Randomness: one `np.random.SeedSequence(seed)` is split into independent streams (groups,
arms, persons, states, attrition, and one per item position), each used through
`np.random.default_rng`. Same spec and seed give identical frames. All draws are made for
every participant and wave before attrition is applied, so changing, say, the attrition rate
or the effect leaves the other draws as they were (common random numbers, which keeps power
curves smooth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

__all__ = [
    "DEMO_AGREE_LABELS",
    "DEMO_DONT_KNOW_LABEL",
    "DEMO_FREQUENCY_LABELS",
    "DEMO_GROUPING_ITEM",
    "DEMO_ITEMS",
    "DEMO_ITEM_PROMPTS",
    "DEMO_SPEC",
    "DEMO_THERMOMETER_LABELS",
    "TEXT_NEGATIVE_WORDS",
    "TEXT_NEUTRAL_WORDS",
    "ItemSpec",
    "PanelSpec",
    "SimulatedPanel",
    "simulate_panel",
]

ITEM_KINDS = ("likert", "slider", "text")
ASSIGNMENTS = ("stratified", "simple")
_GRID_TOL = 1e-9
_GRID_DECIMALS = 10


@dataclass(frozen=True)
class ItemSpec:
    """One item: its scale and how its answers depend on the latent hostility.

    `loading` and `intercept` are in sixths of the item's range per latent SD (scale points on
    a 7-point item); a negative loading is a reverse-coded item. For a text item they set the
    log-odds of a negative word instead, and the scale fields are unused.
    """

    code: str
    scale_min: float = 1
    scale_max: float = 7
    step: float = 1
    loading: float = 1.0  # negative = reverse-coded relative to the latent
    kind: str = "likert"  # "likert" | "slider" | "text"
    dont_know_rate: float = 0.0
    intercept: float = 0.0

    def __post_init__(self) -> None:
        if not self.code:
            raise ValueError("item code must not be empty")
        if self.kind not in ITEM_KINDS:
            raise ValueError(
                f"item {self.code}: kind must be one of {ITEM_KINDS}, got {self.kind!r}"
            )
        if not 0.0 <= self.dont_know_rate < 1.0:
            raise ValueError(f"item {self.code}: dont_know_rate must be in [0, 1)")
        if not (math.isfinite(self.loading) and math.isfinite(self.intercept)):
            raise ValueError(f"item {self.code}: loading and intercept must be finite")
        if self.kind == "text":
            return
        if not self.scale_max > self.scale_min:
            raise ValueError(f"item {self.code}: scale_max must exceed scale_min")
        if not self.step > 0:
            raise ValueError(f"item {self.code}: step must be positive")
        steps = (self.scale_max - self.scale_min) / self.step
        if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
            raise ValueError(
                f"item {self.code}: (scale_max - scale_min) must be a multiple of step"
            )

    @property
    def is_numeric(self) -> bool:
        return self.kind != "text"

    @property
    def reverse_coded(self) -> bool:
        """True when agreeing means less hostile, i.e. the item loads negatively."""
        return self.loading < 0

    @property
    def n_points(self) -> int:
        """Number of scale points k = (max - min) / step + 1 (docs/indices.md)."""
        return int(round((self.scale_max - self.scale_min) / self.step)) + 1

    @property
    def units_per_latent_sd(self) -> float:
        """Change of y* in the item's units per latent SD: loading * range / 6."""
        return self.loading * (self.scale_max - self.scale_min) / 6.0


DEMO_ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("good_reasons", loading=-0.9, intercept=0.5, dont_know_rate=0.02),
    ItemSpec("understand_other", loading=-0.8, intercept=0.8),
    ItemSpec("threat", loading=1.0, intercept=-0.6, dont_know_rate=0.03),
    ItemSpec("unhappy_marry", loading=0.9, intercept=-0.4, dont_know_rate=0.02),
    ItemSpec("comfortable_talking", loading=-0.7, intercept=0.6),
    ItemSpec("disagree_often", loading=0.4, intercept=-0.5),
    ItemSpec(
        "warmth", scale_min=0, scale_max=100, step=1, loading=-1.0, intercept=-1.0, kind="slider"
    ),
    ItemSpec("describe_disagreement", kind="text", loading=1.0, intercept=-0.8),
)

DEMO_ITEM_PROMPTS: dict[str, dict[str, str]] = {
    "good_reasons": {
        "en": "Most people who disagree with me on important questions have good reasons for "
        "their views.",
        "de": "Die meisten Menschen, die bei wichtigen Fragen anderer Meinung sind als ich, "
        "haben gute Gründe für ihre Ansichten.",
    },
    "understand_other": {
        "en": "I can understand how people on the other side see things.",
        "de": "Ich kann nachvollziehen, wie Menschen auf der anderen Seite die Dinge sehen.",
    },
    "threat": {
        "en": "People on the other side are a threat to the well-being of the country.",
        "de": "Menschen auf der anderen Seite sind eine Bedrohung für das Wohl des Landes.",
    },
    "unhappy_marry": {
        "en": "I would be unhappy if a close relative married someone from the other side.",
        "de": "Ich wäre unglücklich, wenn jemand aus meiner engen Familie jemanden von der "
        "anderen Seite heiraten würde.",
    },
    "comfortable_talking": {
        "en": "I feel comfortable talking with people who see things differently than I do.",
        "de": "Ich fühle mich wohl dabei, mit Menschen zu sprechen, die die Dinge anders sehen "
        "als ich.",
    },
    "disagree_often": {
        "en": "In the past week, how often did you disagree with someone about something that "
        "matters to you?",
        "de": "Wie oft waren Sie in der vergangenen Woche mit jemandem über etwas, das Ihnen "
        "wichtig ist, anderer Meinung?",
    },
    "warmth": {
        "en": "How warm or cold do you feel toward people on the other side?",
        "de": "Wie warm oder kalt sind Ihre Gefühle gegenüber Menschen auf der anderen Seite?",
    },
    "describe_disagreement": {
        "en": "Describe a disagreement you had this week, in one or two sentences.",
        "de": "Beschreiben Sie in ein oder zwei Sätzen eine Meinungsverschiedenheit, die Sie "
        "diese Woche hatten.",
    },
}

# Labels for points 1..7 of the agree scale (all 7-point items except disagree_often).
DEMO_AGREE_LABELS: dict[str, tuple[str, ...]] = {
    "en": (
        "Strongly disagree",
        "Disagree",
        "Somewhat disagree",
        "Neither agree nor disagree",
        "Somewhat agree",
        "Agree",
        "Strongly agree",
    ),
    "de": (
        "Stimme überhaupt nicht zu",
        "Stimme nicht zu",
        "Stimme eher nicht zu",
        "Weder noch",
        "Stimme eher zu",
        "Stimme zu",
        "Stimme voll und ganz zu",
    ),
}

# Labels for points 1..7 of disagree_often ("never ... daily").
DEMO_FREQUENCY_LABELS: dict[str, tuple[str, ...]] = {
    "en": (
        "Never",
        "Once",
        "Twice",
        "Three or four times",
        "Five or six times",
        "Every day",
        "Several times a day",
    ),
    "de": (
        "Nie",
        "Einmal",
        "Zweimal",
        "Drei- oder viermal",
        "Fünf- oder sechsmal",
        "Jeden Tag",
        "Mehrmals täglich",
    ),
}

# Anchors of the 0-100 feeling thermometer (warmth).
DEMO_THERMOMETER_LABELS: dict[str, dict[int, str]] = {
    "en": {0: "Very cold", 50: "Neither warm nor cold", 100: "Very warm"},
    "de": {0: "Sehr kalt", 50: "Weder warm noch kalt", 100: "Sehr warm"},
}

DEMO_DONT_KNOW_LABEL: dict[str, str] = {"en": "Don't know", "de": "Weiß nicht"}

# The grouping item asked once at baseline; its values are PanelSpec.groups of the demo.
DEMO_GROUPING_ITEM: dict = {
    "code": "side",
    "prompt": {
        "en": "Where would you place yourself: more on the left or more on the right?",
        "de": "Wo würden Sie sich selbst einordnen: eher links oder eher rechts?",
    },
    "choices": {
        "left": {"en": "More on the left", "de": "Eher links"},
        "right": {"en": "More on the right", "de": "Eher rechts"},
    },
}

# Word banks for the free-text answers: one word per slot, by part of speech.
TEXT_NEUTRAL_ADJECTIVES = (
    "calm", "respectful", "fair", "friendly", "patient", "polite", "thoughtful", "open",
)  # fmt: skip
TEXT_NEGATIVE_ADJECTIVES = (
    "hostile", "angry", "unfair", "rude", "bitter", "tense", "insulting", "dismissive",
)  # fmt: skip
TEXT_NEUTRAL_VERBS = ("listened", "explained", "nodded", "smiled")
TEXT_NEGATIVE_VERBS = ("shouted", "interrupted", "mocked", "sneered")
TEXT_NEUTRAL_WORDS: frozenset[str] = frozenset(TEXT_NEUTRAL_ADJECTIVES + TEXT_NEUTRAL_VERBS)
TEXT_NEGATIVE_WORDS: frozenset[str] = frozenset(TEXT_NEGATIVE_ADJECTIVES + TEXT_NEGATIVE_VERBS)
_TEXT_WHO = (
    "a colleague", "a neighbor", "a friend", "my brother",
    "my sister", "a stranger online", "my partner", "a relative",
)  # fmt: skip
# Fragments around the slots: f0 WHO f1 ADJ1 f2 ADJ2 f3 VERB f4. No fragment holds a bank word.
_TEXT_TEMPLATES = (
    ("I talked with ", " about something that matters; it was ", " and ", ", and they ", "."),
    ("A conversation with ", " turned ", " and ", "; they ", "."),
    ("We disagreed, ", " and I. It felt ", " and ", "; they ", "."),
    ("Argued with ", " today; it was ", " and ", " and they ", "."),
    ("Spoke with ", " about it. The tone was ", " and ", ", and they ", "."),
)


@dataclass(frozen=True)
class PanelSpec:
    """Parameters of `simulate_panel`; the defaults reproduce the demo study.

    Latent quantities (`initial_group_gap`, `divergence_per_wave`, `trend_per_wave`,
    `effect`, `state_sd`, `noise_sd`) are in latent SD units; see the module docstring.
    """

    n_participants: int = 600
    n_waves: int = 6
    items: tuple[ItemSpec, ...] = DEMO_ITEMS
    groups: tuple[str, str] = ("left", "right")
    group_share: float = 0.5  # share of groups[0]
    arms: tuple[tuple[str, float], ...] = (("control", 1.0), ("intervention", 1.0))
    control_arm: str = "control"
    assignment: str = "stratified"  # "stratified" by group | "simple" weighted random
    intervention_wave: int | None = 3  # None: no intervention
    effect: float = -0.3  # latent SD units, every non-control arm; negative lowers hostility
    effect_decay: float = 1.0  # multiplier per wave after intervention_wave
    arm_effects: tuple[tuple[str, float], ...] = ()  # per-arm overrides of `effect`
    initial_group_gap: float = 0.2  # mu_A - mu_B at wave 1
    divergence_per_wave: float = 0.05  # growth of mu_A - mu_B per wave
    trend_per_wave: float = 0.04  # common drift of both group means per wave
    state_sd: float = 0.4  # within-person wave-to-wave fluctuation
    noise_sd: float = 0.8  # answer noise
    attrition_per_wave: float = 0.06  # P(drop out for good after an answered wave)
    attrition_by_arm: tuple[tuple[str, float], ...] = ()  # per-arm overrides

    def __post_init__(self) -> None:
        if self.n_participants < 1:
            raise ValueError("n_participants must be at least 1")
        if self.n_waves < 1:
            raise ValueError("n_waves must be at least 1")
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError("item codes must be unique")
        if len(self.groups) != 2 or self.groups[0] == self.groups[1]:
            raise ValueError("groups must be two distinct names")
        if not 0.0 < self.group_share < 1.0:
            raise ValueError("group_share must be in (0, 1)")
        arm_names = [name for name, _ in self.arms]
        if not arm_names or len(set(arm_names)) != len(arm_names):
            raise ValueError("arms must be non-empty with unique names")
        if any(not (weight > 0 and math.isfinite(weight)) for _, weight in self.arms):
            raise ValueError("arm weights must be positive")
        if self.control_arm not in arm_names:
            raise ValueError(f"control_arm {self.control_arm!r} is not one of the arms")
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {ASSIGNMENTS}")
        if self.intervention_wave is not None and not 1 <= self.intervention_wave <= self.n_waves:
            raise ValueError("intervention_wave must be between 1 and n_waves")
        if self.effect_decay < 0:
            raise ValueError("effect_decay must be non-negative")
        for name, _ in self.arm_effects + self.attrition_by_arm:
            if name not in arm_names:
                raise ValueError(f"unknown arm {name!r}")
        if self.state_sd < 0 or self.noise_sd < 0:
            raise ValueError("state_sd and noise_sd must be non-negative")
        for _, rate in ((None, self.attrition_per_wave), *self.attrition_by_arm):
            if not 0.0 <= rate <= 1.0:
                raise ValueError("attrition rates must be in [0, 1]")

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.arms)

    @property
    def arm_shares(self) -> dict[str, float]:
        total = sum(weight for _, weight in self.arms)
        return {name: weight / total for name, weight in self.arms}

    def arm_effect(self, arm: str) -> float:
        """Full effect of `arm` in latent SD units (0 for the control arm)."""
        if arm == self.control_arm:
            return 0.0
        return dict(self.arm_effects).get(arm, self.effect)

    def arm_attrition(self, arm: str) -> float:
        return dict(self.attrition_by_arm).get(arm, self.attrition_per_wave)

    def group_means(self) -> np.ndarray:
        """Latent group means without intervention, shape (2, n_waves)."""
        t = np.arange(self.n_waves, dtype=float)
        gap = self.initial_group_gap + self.divergence_per_wave * t
        common = self.trend_per_wave * t
        return np.vstack([common + gap / 2.0, common - gap / 2.0])

    def arm_effect_path(self) -> np.ndarray:
        """Latent effect tau_a(t) per arm (rows in `arms` order) and wave, shape (A, n_waves)."""
        tau = np.zeros((len(self.arms), self.n_waves))
        if self.intervention_wave is None:
            return tau
        waves = np.arange(1, self.n_waves + 1)
        after = waves >= self.intervention_wave
        path = np.where(
            after, self.effect_decay ** np.maximum(waves - self.intervention_wave, 0), 0.0
        )
        for a, name in enumerate(self.arm_names):
            tau[a] = self.arm_effect(name) * path
        return tau


DEMO_SPEC = PanelSpec()


@dataclass(frozen=True)
class SimulatedPanel:
    """Frames of one simulated panel plus the truth that generated them.

    `participants`: participant (str id "S0001"), group, arm, last_wave (last wave answered),
    latent0 (persistent latent at wave 1). `answers` (numeric items): participant, wave, item,
    value (float on the item's grid, NaN = don't know), missing (bool). `texts` (text items):
    participant, wave, item, text. `latent`: participant, wave, latent (eta_it) for every
    answered wave. In the long frames participant and item are categoricals (cheap on
    millions of rows); rows are sorted by participant, wave and item order of the spec.
    """

    participants: pd.DataFrame
    answers: pd.DataFrame
    texts: pd.DataFrame
    truth: dict
    latent: pd.DataFrame = field(repr=False)

    def long(self) -> pd.DataFrame:
        """`answers` with each participant's group and arm: the shape the CLI commands read."""
        # participant categories are the participants' ids in row order, so codes index rows.
        rows = self.answers["participant"].cat.codes.to_numpy()
        frame = self.answers.copy()
        frame["group"] = self.participants["group"].to_numpy()[rows]
        frame["arm"] = self.participants["arm"].to_numpy()[rows]
        return frame


def simulate_panel(spec: PanelSpec = DEMO_SPEC, *, seed: int = 0) -> SimulatedPanel:
    """Draw one panel from `spec`; same spec and seed give identical frames."""
    n, n_waves = spec.n_participants, spec.n_waves
    root = np.random.SeedSequence(seed)
    s_group, s_arm, s_person, s_state, s_attrition, s_items = root.spawn(6)
    item_streams = s_items.spawn(len(spec.items))

    group_idx = (np.random.default_rng(s_group).random(n) >= spec.group_share).astype(np.intp)
    arm_idx = _assign_arms(spec, group_idx, np.random.default_rng(s_arm))
    u = np.random.default_rng(s_person).standard_normal(n)
    state = np.random.default_rng(s_state).standard_normal((n, n_waves))
    state *= spec.state_sd

    mu = spec.group_means()
    tau = spec.arm_effect_path()
    latent = mu[group_idx] + tau[arm_idx] + u[:, None] + state  # (n, W)

    last_wave = _last_waves(spec, arm_idx, np.random.default_rng(s_attrition))
    answered = np.arange(1, n_waves + 1)[None, :] <= last_wave[:, None]  # (n, W)

    width = max(4, len(str(n)))
    ids = [f"S{i:0{width}d}" for i in range(1, n + 1)]
    numeric = [(j, item) for j, item in enumerate(spec.items) if item.is_numeric]
    textual = [(j, item) for j, item in enumerate(spec.items) if not item.is_numeric]

    participants = pd.DataFrame(
        {
            "participant": ids,
            "group": np.asarray(spec.groups, dtype=object)[group_idx],
            "arm": np.asarray(spec.arm_names, dtype=object)[arm_idx],
            "last_wave": last_wave.astype(np.int64),
            "latent0": mu[group_idx, 0] + u,
        }
    )
    answers = _answers_frame(spec, numeric, item_streams, latent, answered, ids)
    texts = _texts_frame(textual, item_streams, latent, answered, ids)
    p_idx, w_idx = np.nonzero(answered)
    latent_frame = pd.DataFrame(
        {
            "participant": pd.Categorical.from_codes(p_idx, categories=ids),
            "wave": (w_idx + 1).astype(np.int64),
            "latent": latent[p_idx, w_idx],
        }
    )
    return SimulatedPanel(
        participants=participants,
        answers=answers,
        texts=texts,
        truth=_truth(spec, seed),
        latent=latent_frame,
    )


def _assign_arms(spec: PanelSpec, group_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([weight for _, weight in spec.arms], dtype=float)
    probs = weights / weights.sum()
    if spec.assignment == "simple":
        return rng.choice(len(probs), size=group_idx.size, p=probs).astype(np.intp)
    arm_idx = np.empty(group_idx.size, dtype=np.intp)
    for g in (0, 1):
        members = np.flatnonzero(group_idx == g)
        exact = members.size * probs
        counts = np.floor(exact).astype(np.intp)
        leftover = members.size - int(counts.sum())
        if leftover:
            remainders = exact - counts
            extra = rng.choice(
                len(probs), size=leftover, replace=False, p=remainders / remainders.sum()
            )
            counts[extra] += 1
        arm_idx[members] = rng.permutation(np.repeat(np.arange(len(probs)), counts))
    return arm_idx


def _last_waves(spec: PanelSpec, arm_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rates = np.array([spec.arm_attrition(name) for name in spec.arm_names])[arm_idx]
    uniform = 1.0 - rng.random(arm_idx.size)  # in (0, 1], so log is finite
    survived = np.full(arm_idx.size, float(spec.n_waves))
    # Transitions survived X with P(X >= k) = (1 - p)^k: inverse of the geometric distribution.
    drop = rates > 0
    with np.errstate(divide="ignore"):
        survived[drop] = np.floor(np.log(uniform[drop]) / np.log1p(-rates[drop]))
    return np.minimum(1.0 + survived, spec.n_waves).astype(np.int64)


def _to_grid(x: np.ndarray, item: ItemSpec) -> np.ndarray:
    k = np.floor((x - item.scale_min) / item.step + 0.5)
    np.clip(k, 0, item.n_points - 1, out=k)
    return np.round(item.scale_min + k * item.step, _GRID_DECIMALS)


def _answers_frame(spec, numeric, item_streams, latent, answered, ids) -> pd.DataFrame:
    n, n_waves = latent.shape
    values = np.empty((n, n_waves, len(numeric)))
    missing = np.zeros((n, n_waves, len(numeric)), dtype=bool)
    for col, (j, item) in enumerate(numeric):
        rng = np.random.default_rng(item_streams[j])
        mid = (item.scale_min + item.scale_max) / 2.0
        scale = (item.scale_max - item.scale_min) / 6.0
        noise = rng.standard_normal((n, n_waves))
        noise *= spec.noise_sd
        noise += item.intercept + item.loading * latent
        values[:, :, col] = _to_grid(mid + scale * noise, item)
        if item.dont_know_rate > 0:
            missing[:, :, col] = rng.random((n, n_waves)) < item.dont_know_rate
    values[missing] = np.nan
    p_idx, w_idx, c_idx = np.nonzero(np.repeat(answered[:, :, None], len(numeric), axis=2))
    return pd.DataFrame(
        {
            "participant": pd.Categorical.from_codes(p_idx, categories=ids),
            "wave": (w_idx + 1).astype(np.int64),
            "item": pd.Categorical.from_codes(c_idx, categories=[it.code for _, it in numeric]),
            "value": values[p_idx, w_idx, c_idx],
            "missing": missing[p_idx, w_idx, c_idx],
        }
    )


@lru_cache(maxsize=1)
def _sentence_table() -> np.ndarray:
    """Every sentence the templates can make, indexed by (template, who, adj1, adj2, verb)."""
    adjectives = TEXT_NEUTRAL_ADJECTIVES + TEXT_NEGATIVE_ADJECTIVES
    verbs = TEXT_NEUTRAL_VERBS + TEXT_NEGATIVE_VERBS
    table = np.empty(
        (len(_TEXT_TEMPLATES), len(_TEXT_WHO), len(adjectives), len(adjectives), len(verbs)),
        dtype=object,
    )
    for t, (f0, f1, f2, f3, f4) in enumerate(_TEXT_TEMPLATES):
        for w, who in enumerate(_TEXT_WHO):
            for a1, adj1 in enumerate(adjectives):
                for a2, adj2 in enumerate(adjectives):
                    for v, verb in enumerate(verbs):
                        table[t, w, a1, a2, v] = f"{f0}{who}{f1}{adj1}{f2}{adj2}{f3}{verb}{f4}"
    return table.reshape(-1)


def _texts_frame(textual, item_streams, latent, answered, ids) -> pd.DataFrame:
    n, n_waves = latent.shape
    n_adj, n_verb = len(TEXT_NEUTRAL_ADJECTIVES), len(TEXT_NEUTRAL_VERBS)
    frames = []
    for j, item in textual:
        rng = np.random.default_rng(item_streams[j])
        shape = (n, n_waves)
        p_negative = expit(item.intercept + item.loading * latent)
        negative = rng.random((n, n_waves, 3)) < p_negative[:, :, None]
        template = rng.integers(len(_TEXT_TEMPLATES), size=shape)
        who = rng.integers(len(_TEXT_WHO), size=shape)
        adj1 = rng.integers(n_adj, size=shape)
        # A different second adjective when both come from the same bank: no "calm and calm".
        other = rng.integers(n_adj - 1, size=shape)
        adj2 = rng.integers(n_adj, size=shape)
        adj2 = np.where(negative[:, :, 0] == negative[:, :, 1], (adj1 + 1 + other) % n_adj, adj2)
        verb = rng.integers(n_verb, size=shape)
        keep = answered
        if item.dont_know_rate > 0:
            keep = answered & (rng.random(shape) >= item.dont_know_rate)
        a1 = adj1 + n_adj * negative[:, :, 0]
        a2 = adj2 + n_adj * negative[:, :, 1]
        v = verb + n_verb * negative[:, :, 2]
        index = (
            ((template * len(_TEXT_WHO) + who) * 2 * n_adj + a1) * 2 * n_adj + a2
        ) * 2 * n_verb + v
        p_idx, w_idx = np.nonzero(keep)
        frames.append(
            pd.DataFrame(
                {
                    "participant": pd.Categorical.from_codes(p_idx, categories=ids),
                    "wave": (w_idx + 1).astype(np.int64),
                    "item": item.code,
                    "text": _sentence_table()[index[p_idx, w_idx]],
                }
            )
        )
    codes = [item.code for _, item in textual]
    if not frames:
        return pd.DataFrame(
            {
                "participant": pd.Categorical([], categories=ids),
                "wave": np.array([], dtype=np.int64),
                "item": pd.Categorical([], categories=codes),
                "text": pd.Series([], dtype=object),
            }
        )
    texts = pd.concat(frames, ignore_index=True)
    texts["item"] = pd.Categorical(texts["item"], categories=codes)
    texts["text"] = texts["text"].astype(str)
    return texts.sort_values(["participant", "wave", "item"], kind="stable", ignore_index=True)


def _expected_grid_mean(item: ItemSpec, mean: np.ndarray, sd: float) -> np.ndarray:
    """E[y] for y = grid(y*), y* ~ N(mean, sd^2): lo + step * sum_k P(y* >= cut_k).

    Cut k (k = 1..K) lies halfway between grid points k-1 and k. Only cuts within 10 sd of
    the mean are summed (the others contribute 1 or 0 to double precision). On grids far
    finer than sd (more than 200,000 cuts in that window) the clipped continuous normal is
    used instead; its error is of order step^2 / sd.
    """
    mean = np.asarray(mean, dtype=float)
    if sd == 0:
        return _to_grid(mean, item)
    lo, hi, step, n_cuts = item.scale_min, item.scale_max, item.step, item.n_points - 1
    out = np.empty_like(mean)
    for index, m in np.ndenumerate(mean):
        first = int(np.clip(math.floor((m - 10 * sd - lo) / step + 0.5), 0, n_cuts))
        last = int(np.clip(math.ceil((m + 10 * sd - lo) / step + 0.5), 0, n_cuts))
        if last - first <= 200_000:
            cuts = lo + (np.arange(first + 1, last + 1) - 0.5) * step
            out[index] = lo + step * (first + ndtr((m - cuts) / sd).sum())
            continue
        alpha = (lo + step / 2 - m) / sd
        beta = (hi - step / 2 - m) / sd
        inside = m * (ndtr(beta) - ndtr(alpha)) + sd * (_phi(alpha) - _phi(beta))
        out[index] = lo * ndtr(alpha) + hi * (1 - ndtr(beta)) + inside
    return out


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _truth(spec: PanelSpec, seed: int) -> dict:
    mu = spec.group_means()
    tau = spec.arm_effect_path()
    waves = np.arange(1, spec.n_waves + 1)
    arm_names = spec.arm_names
    control = arm_names.index(spec.control_arm)
    group_weights = np.array([spec.group_share, 1.0 - spec.group_share])
    cell_means = mu[:, None, :] + tau[None, :, :]  # (group, arm, wave)
    latent_total_sd = math.sqrt(1.0 + spec.state_sd**2)

    def cell_frame(values: np.ndarray, name: str) -> pd.DataFrame:
        g, a, t = np.meshgrid(range(2), range(len(arm_names)), range(spec.n_waves), indexing="ij")
        return pd.DataFrame(
            {
                "wave": waves[t.ravel()],
                "group": np.asarray(spec.groups, dtype=object)[g.ravel()],
                "arm": np.asarray(arm_names, dtype=object)[a.ravel()],
                name: values.ravel(),
            }
        ).sort_values(["wave", "group", "arm"], ignore_index=True)

    item_means, effects, answer_sd, text_negativity = [], [], {}, []
    for item in spec.items:
        if not item.is_numeric:
            expected = _expected_expit(
                item.intercept + item.loading * cell_means, abs(item.loading) * latent_total_sd
            )
            text_negativity.append(cell_frame(expected, "negative_share").assign(item=item.code))
            continue
        mid = (item.scale_min + item.scale_max) / 2.0
        scale = (item.scale_max - item.scale_min) / 6.0
        sd = scale * math.sqrt(item.loading**2 * latent_total_sd**2 + spec.noise_sd**2)
        answer_sd[item.code] = sd
        expected = _expected_grid_mean(
            item, mid + scale * (item.intercept + item.loading * cell_means), sd
        )
        item_means.append(cell_frame(expected, "mean").assign(item=item.code))
        pooled = np.tensordot(group_weights, expected, axes=1)  # (arm, wave)
        for a, arm in enumerate(arm_names):
            if a == control:
                continue
            effects.append(
                pd.DataFrame(
                    {
                        "wave": waves,
                        "arm": arm,
                        "item": item.code,
                        "linear": item.units_per_latent_sd * tau[a],
                        "expected": pooled[a] - pooled[control],
                    }
                )
            )

    def stack(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

    retention = pd.DataFrame(
        [
            {"wave": int(t), "arm": arm, "share": (1.0 - spec.arm_attrition(arm)) ** (t - 1)}
            for t in waves
            for arm in arm_names
        ]
    )
    return {
        "seed": seed,
        "spec": spec,
        "latent_unit": "between-person SD of the persistent attitude within a group",
        "group_means": pd.DataFrame(
            {
                "wave": np.tile(waves, 2),
                "group": np.repeat(np.asarray(spec.groups, dtype=object), spec.n_waves),
                "mean": mu.ravel(),
            }
        ),
        "group_gap": pd.Series(mu[0] - mu[1], index=pd.Index(waves, name="wave"), name="group_gap"),
        "latent_means": cell_frame(cell_means, "mean"),
        "arm_effects": pd.DataFrame(
            {
                "wave": np.tile(waves, len(arm_names)),
                "arm": np.repeat(np.asarray(arm_names, dtype=object), spec.n_waves),
                "effect": tau.ravel(),
            }
        ),
        "effect": spec.effect,
        "effect_in_item_units": {
            item.code: item.units_per_latent_sd * spec.effect
            for item in spec.items
            if item.is_numeric
        },
        "item_units_per_latent_sd": {
            item.code: item.units_per_latent_sd for item in spec.items if item.is_numeric
        },
        "answer_sd": answer_sd,
        "expected_item_means": stack(item_means, ["wave", "group", "arm", "item", "mean"]),
        "expected_effects": stack(effects, ["wave", "arm", "item", "linear", "expected"]),
        "expected_text_negativity": stack(
            text_negativity, ["wave", "group", "arm", "item", "negative_share"]
        ),
        "arm_shares": spec.arm_shares,
        "attrition_per_wave": {arm: spec.arm_attrition(arm) for arm in arm_names},
        "retention": retention,
        "reverse_coded": {item.code: item.reverse_coded for item in spec.items if item.is_numeric},
    }


def _expected_expit(linear_mean: np.ndarray, sd: float, nodes: int = 40) -> np.ndarray:
    """E[expit(X)] for X ~ N(linear_mean, sd^2), by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    return (expit(np.asarray(linear_mean)[..., None] + sd * x) * w).sum(axis=-1)
