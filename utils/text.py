"""Sentences as token ids: a cased, reversible word tokenizer, vocabularies, padding and length-bucketed batches.

Introduced in ``08_seq2seq/04_project_translation_en_fr.ipynb``, which writes these out (and keeps its own copy);
later notebooks (``09_transformers/03_framework_transformer_translation.ipynb``) use them from here.

* :func:`tokenize` / :func:`detokenize`: words split from punctuation, case kept, an apostrophe kept with the word
  before it (``l'`` ``homme``); ``detokenize(tokenize(s)) == s`` for nearly every Multi30k caption, so a
  translation can be scored *detokenised* by ``sacrebleu``, as papers report it.
* :class:`Vocab`: the ids of the words seen at least ``min_freq`` times, after the four special tokens
  ``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2) and ``<unk>`` (3).
* :func:`pad`: a list of id lists as one right-padded int64 array (optionally wrapped in ``<bos>`` … ``<eos>``).
* :func:`bucket_plan` and :class:`BucketedBatches`: batches of sentences of similar length (little padding),
  either a fixed number of sentences or a budget of tokens per batch, in a new seeded order at every pass.
* :func:`sinusoidal_positions`: the sinusoidal position table of the Transformer.
"""
from __future__ import annotations

import collections
import re
from typing import Callable, Iterable, Sequence

import numpy as np

TOKEN = re.compile(r"\w+['’]?|[^\w\s]")
GLUE_LEFT = frozenset(".,;:)]!?-")
PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def tokenize(sentence: str) -> list[str]:
    """Words and punctuation marks of ``sentence``, case kept; an apostrophe stays with the word before it."""
    return TOKEN.findall(sentence)


def detokenize(tokens: Sequence[str]) -> str:
    """The sentence back from its tokens: punctuation glued to the word before it, nothing after ``'``, ``-`` or ``(``."""
    out = []
    for i, token in enumerate(tokens):
        if i and not (token in GLUE_LEFT or tokens[i - 1][-1] in "'’" or tokens[i - 1] in "-(["):
            out.append(" ")
        out.append(token)
    return "".join(out)


class Vocab:
    """Token ↔ id for the tokens seen at least ``min_freq`` times in ``sentences`` (sorted), after :data:`SPECIALS`.

    ``encode`` maps an unseen token to ``<unk>`` (3); ``decode`` maps ids back to tokens.
    """

    def __init__(self, sentences: Iterable[str], min_freq: int = 2, tokenizer: Callable[[str], list[str]] = tokenize):
        if min_freq < 1:
            raise ValueError(f"min_freq={min_freq}: expected at least 1")
        self.tokenizer = tokenizer
        counts = collections.Counter(t for s in sentences for t in tokenizer(s))
        words = sorted(t for t, c in counts.items() if c >= min_freq and t not in SPECIALS)
        self.itos = list(SPECIALS) + words
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, sentence: str) -> list[int]:
        return [self.stoi.get(t, UNK) for t in self.tokenizer(sentence)]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]


def pad(seqs: Sequence[Sequence[int]], bos_eos: bool = False) -> np.ndarray:
    """``seqs`` as one ``(len(seqs), longest)`` int64 array right-padded with ``PAD``; ``bos_eos`` wraps each first."""
    if len(seqs) == 0:
        raise ValueError("pad: no sequences")
    if bos_eos:
        seqs = [[BOS, *s, EOS] for s in seqs]
    out = np.full((len(seqs), max(len(s) for s in seqs)), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def bucket_plan(src_lengths: Sequence[int], tgt_lengths: Sequence[int], rng: np.random.Generator, *,
                batch_size: int | None = None, max_tokens: int | None = None, chunk: int = 4000) -> list[np.ndarray]:
    """One epoch of batches (arrays of sentence indices) of similar lengths, in random order.

    The sentences are shuffled, cut into chunks of ``chunk`` sentences, and each chunk is sorted by
    (source length, target length) and cut into batches: ``batch_size`` sentences each, or as many as
    keep ``sentences × (longest source + longest target)`` — the padded tokens of the batch — within
    ``max_tokens``. Then the batches are shuffled. Give exactly one of ``batch_size`` and ``max_tokens``.
    """
    if (batch_size is None) == (max_tokens is None):
        raise ValueError("give exactly one of batch_size and max_tokens")
    src_lengths, tgt_lengths = np.asarray(src_lengths), np.asarray(tgt_lengths)
    if len(src_lengths) != len(tgt_lengths):
        raise ValueError(f"{len(src_lengths)} source lengths but {len(tgt_lengths)} target lengths")
    order, batches = rng.permutation(len(src_lengths)), []
    for c in range(0, len(order), chunk):
        part = order[c:c + chunk]
        part = part[np.lexsort((tgt_lengths[part], src_lengths[part]))]
        if batch_size is not None:
            batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
            continue
        start, longest_src, longest_tgt = 0, 0, 0
        for k, i in enumerate(part):
            s, t = max(longest_src, src_lengths[i]), max(longest_tgt, tgt_lengths[i])
            if k > start and (k - start + 1) * (s + t) > max_tokens:
                batches.append(part[start:k])
                start, s, t = k, src_lengths[i], tgt_lengths[i]
            longest_src, longest_tgt = s, t
        batches.append(part[start:])
    return [batches[i] for i in rng.permutation(len(batches))]


class BucketedBatches:
    """A loader for :func:`utils.train.fit`: each pass is one epoch of :func:`bucket_plan` batches.

    Yields ``((source, decoder input), decoder target)``: the padded source ids, and the target wrapped
    in ``<bos>`` … ``<eos>`` split for teacher forcing (the decoder reads ``<bos> y1 … yn`` and predicts
    ``y1 … yn <eos>``). PyTorch tensors by default, NumPy arrays with ``as_torch=False`` (for Keras).
    ``len()`` is the number of batches of the next pass (its plan is drawn then, so it is exact).
    """

    def __init__(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], *, seed: int = 0,
                 batch_size: int | None = None, max_tokens: int | None = None, chunk: int = 4000,
                 as_torch: bool = True):
        if len(src_ids) != len(tgt_ids):
            raise ValueError(f"{len(src_ids)} sources but {len(tgt_ids)} targets")
        self.src_ids, self.tgt_ids, self.as_torch = src_ids, tgt_ids, as_torch
        self.src_lengths = np.array([len(s) for s in src_ids])
        self.tgt_lengths = np.array([len(t) + 2 for t in tgt_ids])        # with <bos> and <eos>
        self.options = dict(batch_size=batch_size, max_tokens=max_tokens, chunk=chunk)
        bucket_plan(self.src_lengths[:1], self.tgt_lengths[:1], np.random.default_rng(0), **self.options)  # checks
        self.rng, self._next = np.random.default_rng(seed), None

    def _plan(self) -> list[np.ndarray]:
        if self._next is None:
            self._next = bucket_plan(self.src_lengths, self.tgt_lengths, self.rng, **self.options)
        return self._next

    def __len__(self) -> int:
        return len(self._plan())

    def batch(self, idx: Sequence[int]):
        """The batch of the sentences ``idx``: ``((source, decoder input), decoder target)``."""
        src = pad([self.src_ids[i] for i in idx])
        tgt = pad([self.tgt_ids[i] for i in idx], bos_eos=True)
        arrays = (src, tgt[:, :-1], tgt[:, 1:])
        if self.as_torch:
            import torch

            arrays = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
        return (arrays[0], arrays[1]), arrays[2]

    def __iter__(self):
        plan, self._next = self._plan(), None
        for idx in plan:
            yield self.batch(idx)


def sinusoidal_positions(n: int, d: int, base: float = 10000.0, dtype=np.float32) -> np.ndarray:
    """The ``(n, d)`` position table of Vaswani et al. (2017), for even ``d``, as ``dtype``.

    ``PE[p, 2i] = sin(p θ_i)``, ``PE[p, 2i+1] = cos(p θ_i)``, ``θ_i = base^(-2i/d)``, computed in float64 and then
    cast. Taught in ``09_transformers/01_theory_transformers.ipynb`` and built from scratch in
    ``09_transformers/02_scratch_transformer.ipynb``, which keep their own copies; later notebooks use this one.
    """
    if d < 2 or d % 2:
        raise ValueError(f"d={d}: the table needs an even width (sine, cosine pairs)")
    angles = np.arange(n)[:, None] * base ** (-np.arange(0, d, 2) / d)      # (n, d/2), float64
    table = np.empty((n, d), dtype=dtype)
    table[:, 0::2], table[:, 1::2] = np.sin(angles), np.cos(angles)
    return table
