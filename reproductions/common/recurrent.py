"""An attention-LSTM encoder-decoder: the recurrent models the Transformer replaced.

Luong, Pham and Manning (2015), "Effective Approaches to Attention-based Neural Machine
Translation", arXiv:1508.04025: global attention with the "general" score and input feeding,
over a bidirectional LSTM encoder (as Bahdanau et al., 2014, and GNMT's first layer):

    m_s = [->h_s ; <-h_s]                         encoder states, s = 1..S     (B, S, H)
    h_t = LSTM([E y_{t-1} ; h~_{t-1}], h_{t-1})   input feeding, Sec. 3.3
    a_t(s) = softmax_s(h_t^T W_a m_s)             "general" score, Eq. 8
    c_t = sum_s a_t(s) m_s                        context
    h~_t = tanh(W_c [c_t ; h_t])                  attentional hidden state, Eq. 5
    p(y_t | y_<t, x) = softmax(E h~_t + b)        output, tied with the embedding E

It has the Transformer's `encode(src) -> (memory, memory_mask)` and
`decode(tgt_in, memory, memory_mask) -> logits` interface, so the same greedy and beam search
decode it. The decoder is a loop over target positions (h_t needs h_{t-1} and h~_{t-1}): the
"inherently sequential computation" that Sec. 1 and Table 1 of the Transformer paper count.

Deviations from Luong et al.: the decoder starts from zero states (the bidirectional encoder's
final states have twice its width), the output projection is tied with the embedding (as the
Transformer's is, Sec. 3.4), and there is no dropout between layers unless `dropout` is set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAD = 0  # as `parallel_text` and the Transformer's generated task


class AttentionLSTM(nn.Module):
    """forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V); `hidden` is H, the width of the
    encoder states (H/2 per direction), of the decoder LSTM and of the embeddings."""

    def __init__(self, vocab_size: int, hidden: int, n_layers: int, dropout: float = 0.0):
        super().__init__()
        assert hidden % 2 == 0, "the bidirectional encoder splits `hidden` in two directions"
        self.hidden = hidden
        self.embed = nn.Embedding(vocab_size, hidden, padding_idx=PAD)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size))
        self.encoder = nn.LSTM(hidden, hidden // 2, n_layers, batch_first=True,
                               bidirectional=True, dropout=dropout if n_layers > 1 else 0.0)
        cell_inputs = [2 * hidden] + [hidden] * (n_layers - 1)  # layer 1 gets [E y ; h~]
        self.cells = nn.ModuleList(nn.LSTMCell(n, hidden) for n in cell_inputs)
        self.score = nn.Linear(hidden, hidden, bias=False)  # W_a, Eq. 8 ("general")
        self.combine = nn.Linear(2 * hidden, hidden, bias=False)  # W_c, Eq. 5
        self.drop = nn.Dropout(dropout)
        # N(0, H^-0.5): the tied output logits E h~ start O(1) (|h~| <= 1), as the Transformer's
        nn.init.normal_(self.embed.weight, std=hidden**-0.5)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) -> memory (B, S, H), memory_mask (B, S), True at real tokens. Packing
        makes the backward direction start at each source's last real token, not at padding."""
        mask = src != PAD
        lengths = mask.sum(-1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.drop(self.embed(src)), lengths,
                                                   batch_first=True, enforce_sorted=False)
        memory, _ = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True,
                                                     total_length=src.size(1))  # (B, S, H)
        return memory, mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor,
               memory_mask: torch.Tensor) -> torch.Tensor:
        """tgt_in (B, T) -> logits (B, T, V), one target position after the other."""
        b = tgt_in.size(0)
        emb = self.drop(self.embed(tgt_in))  # (B, T, H)
        keys = self.score(memory)  # (B, S, H): W_a m_s, computed once for every step
        state = [(memory.new_zeros(b, self.hidden), memory.new_zeros(b, self.hidden))
                 for _ in self.cells]
        attentional = memory.new_zeros(b, self.hidden)  # h~_0
        outputs = []
        for t in range(tgt_in.size(1)):
            x = torch.cat([emb[:, t], attentional], dim=-1)  # (B, 2H): input feeding
            for i, cell in enumerate(self.cells):
                state[i] = cell(x, state[i])
                x = self.drop(state[i][0]) if i < len(self.cells) - 1 else state[i][0]
            scores = torch.einsum("bh,bsh->bs", x, keys).masked_fill(~memory_mask, float("-inf"))
            context = torch.einsum("bs,bsh->bh", scores.softmax(-1), memory)  # (B, H)
            attentional = torch.tanh(self.combine(torch.cat([context, x], dim=-1)))  # (B, H)
            outputs.append(attentional)
        out = self.drop(torch.stack(outputs, dim=1))  # (B, T, H)
        return F.linear(out, self.embed.weight, self.out_bias)  # (B, T, V)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, memory_mask = self.encode(src)
        return self.decode(tgt_in, memory, memory_mask)
