"""Records the op order that deepseek-ai/DualPipe's own schedulers run, for ch06's schedule test.

    git clone https://github.com/deepseek-ai/DualPipe /tmp/DualPipe    # tested at 3da1bbe
    /usr/bin/python3 tools/dualpipe_trace.py /tmp/DualPipe > ch06/parallel/tests/fixtures/dualpipe_order.txt

Nothing of DualPipe is copied here: the script imports the unmodified `dualpipe` package from the
checkout given on the command line and runs `DualPipe.step` / `DualPipeV.step` once per rank, in
one CPU process, with
  * torch.distributed's point-to-point layer replaced by a recorder: `batch_isend_irecv` notes the
    group of sends and receives the scheduler commits (and waits on) before its next compute, and
    moves no data;
  * a stand-in stage module whose autograd function logs its forward (direction, micro-batch), its
    backward (full, or input-only when DualPipe's WeightGradStore defers the weight gradient) and
    the deferred weight-gradient closure when DualPipe pops it; `overlapped_forward_backward` is
    defined, so the overlapped F&B chunks are logged as one op.
Every tensor the stand-in produces is filled with a code naming it (activation or gradient,
direction, micro-batch), so each recorded send names what it carries. A receive names its data by
MPI's matching rule: the k-th receive on rank r from rank p gets the k-th send from p to r.

Output, one line per rank after a "# <schedule> ranks=<R> micro_batches=<M>" header (M counts
both directions for DualPipe, as its `num_chunks`):
  F0.3          forward of micro-batch 3 in direction (DualPipe) or V-leg (DualPipeV) 0
  B0.3 / b0.3   backward with / without the weight gradient (b: W deferred, zero-bubble style)
  W0.3          the deferred weight gradient
  F0.3+B1.2     one overlapped forward & backward chunk
  [s1:a0.3 r1:g1.2]   a communication group posted together and waited on before the next op:
                send to rank 1 the activation a / gradient g of (direction.micro-batch), or
                receive from rank 1
"""
import sys
from collections import defaultdict

import torch
import torch.distributed as dist
import torch.nn as nn

CODE_ACT, CODE_GRAD = 1, 2


def code(kind, direction, mb):
    return float(kind * 10000 + direction * 1000 + mb)


def decode(value):
    v = int(round(value))
    return ("a" if v // 10000 == CODE_ACT else "g") + f"{(v // 1000) % 10}.{v % 1000}"


class Recorder:
    """The events of the rank being traced, in program order."""

    def __init__(self):
        self.events = []          # ("op", text) or ("comm", [(kind, peer, payload or None)])
        self.fb = None            # collects the two halves of an overlapped chunk

    def compute(self, text):
        if self.fb is not None:
            self.fb.append(text)
        else:
            self.events.append(("op", text))


REC = Recorder()


class StageFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, direction, mb, store):
        ctx.tag = (direction, mb)
        ctx.weight = weight
        ctx.store = store
        REC.compute(f"F{direction}.{mb}")
        return torch.full_like(x, code(CODE_ACT, direction, mb))

    @staticmethod
    def backward(ctx, grad_output):
        d, mb = ctx.tag
        weight = ctx.weight

        def weight_grad():
            REC.compute(f"W{d}.{mb}")
            weight.grad = torch.zeros_like(weight)

        if ctx.store.enabled:           # DualPipe asked for the weight gradient to be deferred
            REC.compute(f"b{d}.{mb}")
            ctx.store.put(weight_grad)
        else:
            REC.compute(f"B{d}.{mb}")
            weight.grad = torch.zeros_like(weight)
        return torch.full_like(grad_output, code(CODE_GRAD, d, mb)), None, None, None, None


class Stage(nn.Module):
    """One pipeline stage of `direction`; the k-th forward it runs is micro-batch k."""

    store = None
    run_backward = None

    def __init__(self, direction):
        super().__init__()
        self.direction = direction
        self.weight = nn.Parameter(torch.zeros(1))
        self.count = 0

    def forward(self, x):
        mb = self.count
        self.count += 1
        return StageFunction.apply(x, self.weight, self.direction, mb, Stage.store)

    @classmethod
    def overlapped_forward_backward(cls, module0, inputs0, criterion0, labels0, module1, loss1, outputs1, output_grads1):
        REC.fb = []
        outputs0 = module0(*inputs0)
        outputs0 = [outputs0] if isinstance(outputs0, torch.Tensor) else outputs0
        loss0 = criterion0(*outputs0, *labels0) if criterion0 is not None else None
        if loss1 is not None:
            loss1.backward()
            loss1.detach_()
        else:
            Stage.run_backward(outputs1, output_grads1)   # DualPipe's own helper: sent outputs are freed
        parts, REC.fb = REC.fb, None
        assert len(parts) == 2, parts
        REC.events.append(("op", "+".join(parts)))
        return outputs0, loss0


class P2P:
    def __init__(self, op, tensor, peer, group=None):
        self.kind = "s" if op is dist.isend else "r"
        self.peer = peer
        self.payload = decode(tensor.flatten()[0].item()) if self.kind == "s" else None


class Group:
    def __init__(self, size, rank):
        self._size, self._rank = size, rank

    def size(self):
        return self._size

    def rank(self):
        return self._rank


def criterion(output, label):
    return (output * 0).sum()


def install_fakes(dualpipe_pkg):
    import dualpipe.comm as comm
    torch.cuda.current_device = lambda: "cpu"
    comm.build_from_tensor_shapes = lambda: [torch.zeros(s, dtype=comm.TENSOR_DTYPE, requires_grad=True) for s in comm.TENSOR_SHAPES]
    dist.distributed_c10d.get_global_rank = lambda group, rank: rank
    dist.P2POp = P2P
    dist.batch_isend_irecv = lambda ops: REC.events.append(("comm", [(o.kind, o.peer, o.payload) for o in ops])) or []
    comm.set_p2p_tensor_shapes([(1, 4)])
    comm.set_p2p_tensor_dtype(torch.float32)
    Stage.store = dualpipe_pkg.WeightGradStore
    Stage.run_backward = staticmethod(dualpipe_pkg.utils.run_backward)


def trace_rank(cls, ranks, rank, micro_batches):
    global REC
    REC = Recorder()
    v_shape = cls.__name__ == "DualPipeV"
    # DualPipe rank r holds stage r of direction 0 and stage R-1-r of direction 1; DualPipeV rank r
    # holds stage r and stage 2R-1-r of one pipeline, so its two legs play the two "directions".
    pipe = cls((Stage(0), Stage(1)), process_group=Group(ranks, rank))
    per_direction = micro_batches if v_shape else micro_batches // 2
    data = torch.zeros(per_direction, 4)
    feeds = rank == 0 if v_shape else rank in (0, ranks - 1)
    if feeds:
        pipe.step(data, num_chunks=micro_batches, criterion=criterion, labels=(data,))
    else:
        pipe.step(num_chunks=micro_batches)
    return REC.events


def match_receives(traces):
    """Names each receive's data: the k-th receive on r from p is the k-th send from p to r."""
    sent = defaultdict(list)
    for r, events in enumerate(traces):
        for kind, item in events:
            if kind == "comm":
                for k, peer, payload in item:
                    if k == "s":
                        sent[(r, peer)].append(payload)
    taken = defaultdict(int)
    out = []
    for r, events in enumerate(traces):
        line = []
        for kind, item in events:
            if kind == "op":
                line.append(item)
                continue
            comms = []
            for k, peer, payload in item:
                if k == "r":
                    channel = (peer, r)
                    assert taken[channel] < len(sent[channel]), f"rank {r} receives from {peer} more than it is sent"
                    payload = sent[channel][taken[channel]]
                    taken[channel] += 1
                comms.append(f"{k}{peer}:{payload}")
            line.append("[" + " ".join(comms) + "]")
        out.append(line)
    for channel, payloads in sent.items():
        assert taken[channel] == len(payloads), f"sends on {channel} never received"
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dualpipe_trace.py PATH_TO_DUALPIPE_CHECKOUT")
    import subprocess
    commit = subprocess.run(["git", "-C", sys.argv[1], "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    sys.path.insert(0, sys.argv[1])
    import dualpipe
    install_fakes(dualpipe)
    print("# The op order deepseek-ai/DualPipe's schedulers run (dualpipe/dualpipe.py, dualpipev.py" + (f" at {commit[:7]}" if commit else "") + "),")
    print("# recorded by tools/dualpipe_trace.py from the unmodified package; see that script for the notation.")
    print("# For DualPipe, ranks = PP stages; for DualPipeV, ranks = PP / 2 devices holding two stages each.")
    print("# DualPipe with PP = 8 and M = 8 is absent: DualPipe.step asserts num_chunks >= 2 * num_ranks.")
    cases = [("dualpipe", dualpipe.DualPipe, 4, 8), ("dualpipe", dualpipe.DualPipe, 4, 20),
             ("dualpipe", dualpipe.DualPipe, 8, 20),
             ("dualpipev", dualpipe.DualPipeV, 2, 8), ("dualpipev", dualpipe.DualPipeV, 2, 20),
             ("dualpipev", dualpipe.DualPipeV, 4, 8), ("dualpipev", dualpipe.DualPipeV, 4, 20)]
    for name, cls, ranks, m in cases:
        traces = [trace_rank(cls, ranks, r, m) for r in range(ranks)]
        print(f"# {name} ranks={ranks} micro_batches={m}")
        for r, line in enumerate(match_receives(traces)):
            print(f"rank {r}: " + " ".join(line))


if __name__ == "__main__":
    main()
