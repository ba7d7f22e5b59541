"""BLEU for token sequences: the papers' corpus BLEU and the lecture notes' sentence score.

`bleu` is corpus BLEU (Papineni et al., 2002), as "Attention Is All You Need" reports it
(Table 2); `lecture_bleu` is the lecture notes' sentence formula (Dive into Deep Learning's
`bleu`). Tokens can be anything hashable: words, BPE ids.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def _ngrams(tokens: Sequence, n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses: Sequence[Sequence], references: Sequence[Sequence], max_n: int = 4) -> float:
    """Corpus BLEU (Papineni et al., 2002) in [0, 100], as the Transformer reports it (Table 2).

    BLEU = BP * exp(sum_{n=1..N} log(p_n) / N), BP = exp(min(0, 1 - r / c)), where p_n is the
    clipped count of hypothesis n-grams found in the reference over the count of hypothesis
    n-grams, both summed over the corpus, r and c the total reference and hypothesis lengths.
    No smoothing: any p_n = 0 gives 0 (as sacrebleu with `smooth_method="none"`).
    """
    matches, totals = [0] * max_n, [0] * max_n
    ref_len = hyp_len = 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, max_n + 1):
            h, r = _ngrams(hyp, n), _ngrams(ref, n)
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    brevity = min(0.0, 1.0 - ref_len / hyp_len)
    return 100.0 * math.exp(brevity + log_precision)


def lecture_bleu(prediction: Sequence, label: Sequence, k: int = 2) -> float:
    """The lecture notes' sentence score, in [0, 1] (Dive into Deep Learning's `bleu`):

    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n^(1/2^n), weighting longer n-grams
    more; `bleu` is the paper's (uniform weights over the corpus)."""
    if not prediction:
        return 0.0
    score = math.exp(min(0.0, 1.0 - len(label) / len(prediction)))
    for n in range(1, k + 1):
        total = len(prediction) - n + 1
        if total <= 0:
            return 0.0
        hits = sum((_ngrams(prediction, n) & _ngrams(label, n)).values())
        score *= (hits / total) ** (0.5**n)
    return score
