#!/usr/bin/env python3
"""A straightforward PyTorch Switch layer (the reference scripts/gpu-check
times switchsim's CUDA layer against): fp32 router softmax, top-1 argmax,
one-hot cumulative-sum positions for capacity, dispatch and combine by einsum
over one-hot tensors, expert FFN by batched matrix products (bf16).

usage: torch_switch_layer.py --tokens T --d-model D --d-ff F --experts E
                             [--capacity-factor X] [--repeats R]
Prints JSON: median seconds of the whole layer (CUDA events).
"""
import argparse
import json
import math
import statistics

import torch


def switch_layer(x, wr, wi, wo, capacity):
    # x (T, d) bf16; wr (d, E) fp32; wi (E, d, f), wo (E, f, d) bf16
    logits = x.float() @ wr                        # (T, E) fp32
    probs = torch.softmax(logits, dim=-1)
    gate, expert = probs.max(dim=-1)               # (T,)
    mask = torch.nn.functional.one_hot(expert, wr.shape[1]).to(torch.int32)  # (T, E)
    position = torch.cumsum(mask, dim=0) * mask - 1                           # (T, E), -1 where not routed
    keep = (position >= 0) & (position < capacity)
    pos_clamped = position.clamp(min=0, max=capacity - 1)
    dispatch = torch.nn.functional.one_hot(pos_clamped, capacity).to(x.dtype) * keep.unsqueeze(-1).to(x.dtype)
    # dispatch (T, E, C): one-hot over (expert, slot) for kept tokens
    expert_in = torch.einsum("tec,td->ecd", dispatch, x)           # (E, C, d)
    h = torch.relu(torch.bmm(expert_in, wi))                       # (E, C, f)
    expert_out = torch.bmm(h, wo)                                  # (E, C, d)
    combine = dispatch * gate.to(x.dtype).view(-1, 1, 1)
    return torch.einsum("tec,ecd->td", combine, expert_out)        # (T, d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--d-model", type=int, default=1024)
    ap.add_argument("--d-ff", type=int, default=4096)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--capacity-factor", type=float, default=1.25)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    dev = torch.device("cuda")
    T, d, f, E = a.tokens, a.d_model, a.d_ff, a.experts
    capacity = math.ceil(a.capacity_factor * T / E - 1e-9)
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randn(T, d, device=dev, generator=g).to(torch.bfloat16)
    wr = torch.randn(d, E, device=dev, generator=g) / math.sqrt(d)
    wi = (torch.randn(E, d, f, device=dev, generator=g) / math.sqrt(d)).to(torch.bfloat16)
    wo = (torch.randn(E, f, d, device=dev, generator=g) / math.sqrt(f)).to(torch.bfloat16)
    with torch.no_grad():
        for _ in range(3):
            switch_layer(x, wr, wi, wo, capacity)
        torch.cuda.synchronize()
        times = []
        for _ in range(a.repeats):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            switch_layer(x, wr, wi, wo, capacity)
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1e-3)
    print(json.dumps({
        "implementation": "pytorch one-hot cumsum dispatch + bmm",
        "torch_version": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "config": {"tokens": T, "d_model": d, "d_ff": f, "experts": E, "top_k": 1,
                   "capacity_factor": a.capacity_factor, "group_size": T, "activation": "relu"},
        "capacity": capacity,
        "repeats": a.repeats,
        "median_s": statistics.median(times),
    }, indent=2))


if __name__ == "__main__":
    main()
