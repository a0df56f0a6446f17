"""The inference object users hold: a model, its labels and its dev-tuned thresholds.

``emotag.load(path)`` returns a :class:`Predictor`. ``predict_proba`` gives one row of
independent sigmoid scores per text (columns = ``labels``); ``predict`` applies the saved
thresholds (or one the caller gives) and/or a top-k cut, and returns labels with scores.
One string in gives one result out; a list gives a list.

Inference settings fixed at load time: ``num_threads`` (ONNX Runtime intra-op threads, or
torch's process-wide thread count), and what to do with texts longer than the model's
``max_length`` tokens: cut them (default, never an error) or, with ``window=True`` /
``stride=N``, score overlapping windows and keep each label's maximum over the windows
(:class:`~emotag.models.base.TokenWindows` says why max). Texts are scored in batches of
similar length; results always come back in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, ModelFormatError
from ..models import EmotionClassifier, load_model
from ..models.base import default_window_overlap, window_parts
from ..resources import default_model_dir
from .adapt import ADAPTATION_FILE, Adaptation
from .decision_files import CALIBRATION_FILE, THRESHOLDS_FILE, PlattMap, read_thresholds
from .groups import available_taxonomies, check_taxonomy, group_view, load_group_thresholds

DEFAULT_MODEL_DIR = default_model_dir()


def ranked_columns(scores: np.ndarray, cuts: np.ndarray, top_k: int | None = None,
                   keep_all: bool = False) -> list[list[int]]:
    """Per row, the columns with score >= cut (every column with ``keep_all``), highest
    first (stable: ties keep label order), at most ``top_k``."""
    out = []
    for row in scores:
        keep = [int(j) for j in np.argsort(-row, kind="stable") if keep_all or row[j] >= cuts[j]]
        out.append(keep[:top_k] if top_k is not None else keep)
    return out


class Predictor:
    """A loaded model plus its thresholds."""

    def __init__(self, model: EmotionClassifier, thresholds: np.ndarray,
                 path: Path | None = None, calibrator: PlattMap | None = None,
                 group_thresholds: dict[str, dict[str, float]] | None = None,
                 adaptation: Adaptation | None = None) -> None:
        """``thresholds`` are on the model's raw scale; with a ``calibrator`` both the scores
        and the thresholds are mapped to the calibrated scale (the same decisions).
        ``group_thresholds`` (taxonomy -> group -> cut on the reported scale, see
        :mod:`emotag.inference.groups`) decide the groupings; without them a group fires at
        its lowest member threshold. ``adaptation`` (``emotag adapt``) replaces the scores and
        cuts of the one taxonomy it was fitted in."""
        self.model = model
        self.labels: list[str] = list(model.label_names)
        self.calibrator = calibrator
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if thresholds.shape != (len(self.labels),):
            raise ModelFormatError(f"{thresholds.size} thresholds for {len(self.labels)} labels")
        self.thresholds = (calibrator.transform_thresholds(thresholds) if calibrator is not None
                           else thresholds)
        self.group_thresholds = group_thresholds
        self.adaptation = adaptation
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None, *, num_threads: int | None = None,
             window: bool = False, stride: int | None = None,
             spin_wait: bool | None = None) -> Predictor:
        """Load a model folder (default: the shipped model in ``emotag/assets/default_model``).

        ``num_threads``: CPU threads for inference (default: every core this process may
        use). ``window`` / ``stride``: score texts longer than ``max_length`` tokens as
        overlapping windows, max-pooled per label; ``stride`` is the number of tokens
        consecutive windows share (the Hugging Face tokenizer meaning; giving it turns
        windows on; default with ``window=True``: a quarter of ``max_length``). TF-IDF
        models read whole texts, so windows change nothing for them. ``spin_wait=False``
        stops ONNX Runtime's idle threads from spinning between calls (what a service wants;
        ignored by other backends).
        """
        if num_threads is not None and int(num_threads) < 1:
            raise ConfigError(f"num_threads={num_threads}; expected 1 or more")
        if path is None:
            path = DEFAULT_MODEL_DIR
            if not (Path(path) / "emotag.json").is_file():
                raise ModelFormatError(f"no default model at {path}; pass a model folder "
                                       "made by `emotag train`")
        path = Path(path)
        model = load_model(path, num_threads=num_threads, spin_wait=spin_wait)
        for part in window_parts(model) if window or stride is not None else []:
            part.use_windows(default_window_overlap(part.max_length) if stride is None
                             else stride)
        tfile = path / THRESHOLDS_FILE
        if tfile.is_file():
            thresholds = read_thresholds(tfile, model.label_names)
        else:
            thresholds = np.full(len(model.label_names), 0.5)
        cfile = path / CALIBRATION_FILE
        calibrator = PlattMap.load(cfile, model.label_names) if cfile.is_file() else None
        groups = load_group_thresholds(path, calibrated=calibrator is not None)
        afile = path / ADAPTATION_FILE
        adaptation = Adaptation.load(afile, model.label_names) if afile.is_file() else None
        return cls(model, thresholds, path, calibrator, groups, adaptation)

    @property
    def taxonomies(self) -> tuple[str, ...]:
        """The taxonomies ``predict(..., taxonomy=)`` accepts for this model: ``goemotions``
        (the model's own labels) always; ``ekman`` and ``sentiment`` only when the model's
        labels are GoEmotions' (asking for them elsewhere raises TaxonomyError)."""
        return available_taxonomies(self.labels)

    @property
    def window_overlap(self) -> int | None:
        """Tokens shared by consecutive windows, or None when long texts are cut."""
        return getattr(self.model, "window_overlap", None)

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """(n, n_labels) scores; a single string gives shape (n_labels,)."""
        single = isinstance(texts, str)
        probs = self._scores(texts)
        return probs[0] if single else probs

    def _scores(self, texts: str | Sequence[str]) -> np.ndarray:
        probs = self.model.predict_proba(_checked_texts(texts))
        return self.calibrator.transform(probs) if self.calibrator is not None else probs

    def predict(self, texts: str | Sequence[str], threshold: float | None = None,
                top_k: int | None = None, taxonomy: str = "goemotions",
                all_scores: bool = False) -> Any:
        """Per text, ``[{"label", "score"}, ...]`` sorted by score.

        Labels are kept when their score reaches their threshold (the saved per-label ones,
        or ``threshold`` for all); ``top_k`` then keeps at most k of them. ``all_scores``
        returns every label. ``taxonomy`` maps scores onto ekman or sentiment groups first
        (see :meth:`group_scores`); one the model's labels do not support raises
        :class:`~emotag.errors.TaxonomyError` (:attr:`taxonomies` lists the supported ones).
        """
        single = isinstance(texts, str)
        check_taxonomy(taxonomy, self.labels)   # before scoring: a mistake costs nothing
        if top_k is not None and int(top_k) < 1:
            raise ConfigError(f"top_k={top_k}; expected 1 or more")
        probs, names, cut = self.decision_view(self._scores(texts), taxonomy, threshold)
        out = [[{"label": names[j], "score": float(row[j])} for j in keep]
               for row, keep in zip(probs, ranked_columns(probs, cut, top_k, all_scores),
                                    strict=True)]
        return out[0] if single else out

    def decision_view(self, probs: np.ndarray, taxonomy: str = "goemotions",
                      threshold: float | None = None
                      ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, column names and per-column cuts a decision is made on: the taxonomy's
        columns, with one ``threshold`` for all instead of the saved ones when given. The one
        decision rule of ``predict``, the service and batch scoring."""
        check_taxonomy(taxonomy, self.labels)
        if taxonomy != "goemotions":
            probs, names, cut = self.group_scores(probs, taxonomy)
        else:
            probs, names, cut = self._adapted(probs, probs, list(self.labels), self.thresholds,
                                              taxonomy)
        if threshold is not None:
            if not 0.0 <= float(threshold) <= 1.0:
                raise ConfigError(f"threshold={threshold}; expected a number from 0 to 1")
            cut = np.full(len(names), float(threshold))
        return probs, list(names), cut

    def group_scores(self, probs: np.ndarray, taxonomy: str
                     ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, names and thresholds on a taxonomy's groups (those with a member label).

        A group's score is the probability that at least one member label applies,
        ``1 - prod(1 - p_member)`` over the (calibrated) member probabilities, in [0, 1]; its
        threshold is the one tuned on dev (``group_thresholds.json``), or else its lowest
        member threshold (:mod:`emotag.inference.groups`). A model adapted in this taxonomy
        reports the adapted scores and cuts instead (:mod:`emotag.inference.adapt`).
        """
        return self._adapted(probs, *self.base_view(probs, taxonomy), taxonomy)

    def base_view(self, probs: np.ndarray, taxonomy: str
                  ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Scores, names and cuts of ``taxonomy`` without any adaptation (what ``emotag
        adapt`` starts from)."""
        if taxonomy == "goemotions":
            check_taxonomy(taxonomy, self.labels)
            return np.asarray(probs), list(self.labels), self.thresholds
        return group_view(probs, self.labels, self.thresholds, taxonomy, self.group_thresholds)

    def _adapted(self, probs: np.ndarray, scores: np.ndarray, names: list[str],
                 cuts: np.ndarray, taxonomy: str) -> tuple[np.ndarray, list[str], np.ndarray]:
        ad = self.adaptation
        if ad is None or ad.taxonomy != taxonomy:
            return scores, names, cuts
        if ad.columns != names:
            raise ModelFormatError(f"{ADAPTATION_FILE} adapts columns {ad.columns}, but the "
                                   f"model reports {names} in {taxonomy!r}")
        return ad.scores(np.asarray(probs), np.asarray(scores)), names, ad.cuts(cuts)


def _checked_texts(texts: str | Sequence[str]) -> list[str]:
    """``texts`` as a list of str; anything else (None, NaN, numbers) is a DataError naming
    its 1-based position, instead of a tokenizer error deep inside the model."""
    items = [texts] if isinstance(texts, str) else list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise DataError(f"text must be a string, got {type(text).__name__} ({text!r:.40})",
                            row=i + 1)
    return items
