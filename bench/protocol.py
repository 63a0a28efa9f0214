"""The configuration schema: protocol, dataset, metrics, and the top-level run config.

Registered in Hydra's ConfigStore so every YAML file and every command-line override is validated
against these dataclasses: a typo (``protocol.sample_rat=8000``) is an error naming the key.
The protocol object decides what is comparable; its ``version`` is bumped whenever a change to a
preset would change numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PreprocessConfig:
    mono: bool = True                  # mix down to mono (mean of channels)
    align_onset: bool = True           # trim leading silence so the onset sits at sample 0
    onset_threshold_db: float = -40.0  # onset = first sample above peak + this (dB)
    pre_onset_ms: float = 1.0          # keep this much before the detected onset
    fade_out_ms: float = 10.0          # raised-cosine fade at the crop point
    normalize: str = "peak"            # peak | rms | none
    peak_dbfs: float = -1.0            # target for normalize=peak
    rms_dbfs: float = -20.0            # target for normalize=rms (clipped to stay within peak)


@dataclass
class SplitConfig:
    valid: float = 0.1
    test: float = 0.1
    seed: int = 0                      # split seed: independent of the training seed


@dataclass
class BudgetConfig:
    max_steps: int = 1000
    max_wall_s: float = 300.0
    batch_size: int = 32
    val_every: int = 250


@dataclass
class LatencyConfig:
    warmup: int = 3
    repeats: int = 20
    throughput_batch: int = 32


@dataclass
class ClassifierOptions:
    """The reference classifier (bench.metrics.classifier) under this protocol."""
    max_train_per_class: int = 0       # train it on the first k training clips per class (0 = all)
    probe_embedder: Optional[str] = None   # the linear probe's embedder (None = aisfx)


@dataclass
class ProtocolConfig:
    name: str = MISSING
    version: str = MISSING
    sample_rate: int = 16_000
    clip_seconds: float = 1.0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    seeds: list[int] = field(default_factory=lambda: [0])
    clips_per_class: int = 50          # generated per class for scoring
    max_real_per_class: int = 0        # cap on real test clips per class when scoring (0 = all)
    metrics: list[str] = field(default_factory=lambda: ["fad:mel"])
    validation_embedder: str = "mel"   # for the validation loop of samplers without an encoder
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    bootstrap: int = 200               # bootstrap resamples for CIs
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)


@dataclass
class DatasetConfig:
    name: str = MISSING
    source: str = MISSING              # synthkit | hydrogen | folder | freesound_oneshot | fsd50k | dcase2023_t7
    root: Optional[str] = None         # where the files are (sources that read a folder)
    # synthkit
    seed: int = 0
    clips_per_class: int = 250
    synth_sample_rate: int = 44_100
    synth_seconds: float = 1.0
    # folder: labels from sub-folder names, or from a CSV with columns path,label
    labels_csv: Optional[str] = None
    # hydrogen: restrict to these kit folder names (None = all kits under root)
    kits: Optional[list[str]] = None
    # fsd50k / freesound_oneshot / dcase: keep only these labels (None = source default)
    classes: Optional[list[str]] = None
    min_clips_per_class: int = 2       # classes with fewer clips are quarantined (cannot split)
    # what a file may be (bench.data.audio_check.AudioLimits)
    max_channels: int = 2
    max_sample_rate: int = 96_000
    min_sample_rate: int = 8_000
    max_seconds: float = 30.0
    long_files: str = "crop"           # crop | reject


@dataclass
class DebugConfig:
    fail_stage: Optional[str] = None   # inject a failure in fit | generate | score (tests)
    profile: bool = False


@dataclass
class RunConfig:
    protocol: ProtocolConfig = MISSING
    dataset: DatasetConfig = MISSING
    baseline: Any = MISSING            # {name: registered name or module:Class, **constructor kwargs}
    metric: dict[str, Any] = field(default_factory=dict)   # per-metric options, see conf/metric
    debug: DebugConfig = field(default_factory=DebugConfig)
    seed: int = 0
    stage: str = "all"                 # fit | generate | score | all
    runs_dir: str = "runs"
    data_dir: str = "data"             # manifests, splits, preprocessed-clip cache
    cache_dir: str = "data/cache"      # embeddings and protocol artefacts
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    force: bool = False                # re-run even if a complete run exists
    run_timeout_s: float = 0.0         # a run (all its stages) still going after this is failed; 0 = no limit


#: Keys that do not change results: left out of the run signature.
NON_SEMANTIC_KEYS = ("runs_dir", "data_dir", "cache_dir", "device", "force", "stage", "seed",
                     "debug", "run_timeout_s")


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(group="protocol", name="protocol_schema", node=ProtocolConfig)
    cs.store(group="dataset", name="dataset_schema", node=DatasetConfig)
    cs.store(group="debug", name="debug_schema", node=DebugConfig)
