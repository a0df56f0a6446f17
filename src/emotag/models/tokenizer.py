"""A Hugging Face ``tokenizer.json`` read with the ``tokenizers`` library alone.

An exported (ONNX) model needs token ids, not transformers: transformers takes about half a
second to import and is not in the base install. :class:`FastTokenizer` answers the calls
emotag's models make of a tokenizer (encode with truncation or overlapping windows, pad, count
special tokens, save) and gives the same ids as transformers' fast tokenizer built from the
same files (tests/test_packaging.py compares them).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_FILE = "tokenizer.json"
#: Files saved beside ``tokenizer.json`` that transformers reads back (kept when present).
COMPANION_FILES = ("tokenizer_config.json", "special_tokens_map.json")


class FastTokenizer:
    """The subset of ``PreTrainedTokenizerFast`` that inference uses, on ``tokenizers``."""

    is_fast = True

    def __init__(self, tokenizer: Any, folder: Path, pad_token_id: int = 0,
                 pad_token_type_id: int = 0, truncation_side: str = "right") -> None:
        self._tok = tokenizer
        self.folder = Path(folder)
        self.pad_token_id = int(pad_token_id)
        self.pad_token_type_id = int(pad_token_type_id)
        self.truncation_side = truncation_side
        self._tok.no_padding()  # rows are padded per batch by ``pad``
        self._truncation: tuple[int, int] | None = None
        self._tok.no_truncation()

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> FastTokenizer:
        """The tokenizer saved in ``folder`` (``tokenizer.json`` [+ ``tokenizer_config.json``]).

        Raises ``OSError`` when the file is missing and ``ValueError`` when it cannot be read,
        as transformers does."""
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / TOKENIZER_FILE
        if not path.is_file():
            raise OSError(f"{path} not found")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception on a malformed file
            raise ValueError(f"{path}: {e}") from e
        config: dict[str, Any] = {}
        if (folder / "tokenizer_config.json").is_file():
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        padding = tok.padding or {}
        pad_token = config.get("pad_token")
        if isinstance(pad_token, dict):
            pad_token = pad_token.get("content")
        pad_id = tok.token_to_id(pad_token) if isinstance(pad_token, str) else None
        if pad_id is None:
            pad_id = padding.get("pad_id", 0)
        return cls(tok, folder, pad_token_id=pad_id,
                   pad_token_type_id=config.get("pad_token_type_id", padding.get("pad_type_id", 0)),
                   truncation_side=config.get("truncation_side", "right"))

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return int(self._tok.num_special_tokens_to_add(pair))

    def _set_truncation(self, max_length: int | None, stride: int) -> None:
        wanted = None if max_length is None else (int(max_length), int(stride))
        if wanted == self._truncation:
            return
        if wanted is None:
            self._tok.no_truncation()
        else:
            self._tok.enable_truncation(wanted[0], stride=wanted[1], strategy="longest_first",
                                        direction=self.truncation_side)
        self._truncation = wanted

    def __call__(self, texts: Sequence[str], truncation: bool = True,
                 max_length: int | None = None, stride: int = 0,
                 return_overflowing_tokens: bool = False) -> dict[str, list]:
        """``input_ids``, ``token_type_ids`` and ``attention_mask`` per row, unpadded. With
        ``return_overflowing_tokens``, a text longer than ``max_length`` gives one row per
        window (consecutive windows share ``stride`` tokens) and ``overflow_to_sample_mapping``
        names each row's text."""
        self._set_truncation(max_length if truncation else None, stride)
        rows, owner = [], []
        for i, enc in enumerate(self._tok.encode_batch(list(texts), add_special_tokens=True)):
            parts = [enc, *enc.overflowing] if return_overflowing_tokens else [enc]
            rows += parts
            owner += [i] * len(parts)
        out: dict[str, list] = {"input_ids": [r.ids for r in rows],
                                "token_type_ids": [r.type_ids for r in rows],
                                "attention_mask": [r.attention_mask for r in rows]}
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = owner
        return out

    def pad(self, features: dict[str, list], return_tensors: str = "np"
            ) -> dict[str, np.ndarray]:
        """Rows padded on the right to the longest: ids with the pad token, type ids with its
        type, an attention mask of 0 over the padding."""
        if return_tensors != "np":
            raise ValueError(f"return_tensors={return_tensors!r}; only 'np' is supported")
        ids = features["input_ids"]
        width = max((len(r) for r in ids), default=0)
        fill = {"input_ids": self.pad_token_id, "token_type_ids": self.pad_token_type_id,
                "attention_mask": 0}
        columns = dict(features)
        columns.setdefault("attention_mask", [[1] * len(r) for r in ids])
        out = {}
        for name, rows in columns.items():
            arr = np.full((len(rows), width), fill.get(name, 0), dtype=np.int64)
            for i, row in enumerate(rows):
                arr[i, :len(row)] = row
            out[name] = arr
        return out

    def save_pretrained(self, folder: str | Path) -> None:
        """Copies of the files it was read from (never its in-memory truncation settings)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in (TOKENIZER_FILE, *COMPANION_FILES):
            if (self.folder / name).is_file():
                shutil.copyfile(self.folder / name, folder / name)
