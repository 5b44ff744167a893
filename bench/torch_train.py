#!/usr/bin/python3
"""PyTorch CPU reference for `npm run bench:train` and `npm run bench:eval`.

Reads a network plan (JSON from src/space/network.ts expandNetwork, written by
bench/train.ts) and trains the same architecture: same layers (conv/BN/act,
depthwise, SE, residual adds, GAP, dense), BN eps 1e-3, Adam, batch size and
input shape from the plan, random data. Prints one JSON line:
{"imagesPerSec": ..., "threads": ..., "torch": ..., "params": ...}.
With "mode": "eval" in the JSON it times inference instead: model.eval()
(BN on running statistics), torch.no_grad(), channels-last memory format,
forward passes of the batch.

Run with /usr/bin/python3 (Debian python3-torch).
"""
import json
import sys
import time

import torch
import torch.nn as nn


def act(name):
    return {
        'relu': nn.ReLU(),
        'relu6': nn.ReLU6(),
        'hswish': nn.Hardswish(),
        'swish': nn.SiLU(),
    }[name]


class ConvBnAct(nn.Module):
    def __init__(self, op, depthwise):
        super().__init__()
        cin = op['channels'] if depthwise else op['inC']
        cout = op['channels'] if depthwise else op['outC']
        k, s = op['kernel'], op['stride']
        # TF 'same' padding: total pad = max((ceil(in/s)-1)*s + k - in, 0), the odd one at bottom/right.
        # Symmetric cases use the conv's own padding (no copy); asymmetric ones pad explicitly.
        ph = max((-(-op['inH'] // s) - 1) * s + k - op['inH'], 0)
        pw = max((-(-op['inW'] // s) - 1) * s + k - op['inW'], 0)
        symmetric = ph % 2 == 0 and pw % 2 == 0
        self.pad = None if symmetric else (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        self.conv = nn.Conv2d(cin, cout, k, s, (ph // 2, pw // 2) if symmetric else 0,
                              groups=cin if depthwise else 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
        self.act = act(op['activation']) if op['activation'] else nn.Identity()

    def forward(self, x):
        if self.pad is not None:
            x = nn.functional.pad(x, self.pad)
        return self.act(self.bn(self.conv(x)))


class SE(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.reduce = nn.Conv2d(op['channels'], op['reducedChannels'], 1)
        self.act = act(op['activation'])
        self.expand = nn.Conv2d(op['reducedChannels'], op['channels'], 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class Layer(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.residual = layer['residual']
        mods = []
        self.head = None
        for op in layer['ops']:
            kind = op['kind']
            if kind == 'conv2d':
                mods.append(ConvBnAct(op, False))
            elif kind == 'dwconv2d':
                mods.append(ConvBnAct(op, True))
            elif kind == 'se':
                mods.append(SE(op))
            elif kind == 'gap':
                mods.append(nn.AdaptiveAvgPool2d(1))
                mods.append(nn.Flatten())
            elif kind == 'dense':
                if op['dropout'] > 0:
                    mods.append(nn.Dropout(op['dropout']))
                mods.append(nn.Linear(op['inC'], op['outC']))
        self.body = nn.Sequential(*mods)

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def main():
    cfg = json.load(open(sys.argv[1]))
    plan, batch, seconds = cfg['plan'], cfg['batch'], cfg['seconds']
    threads = cfg.get('threads') or torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(*[Layer(l) for l in plan['layers']])
    inp = plan['input']
    x = torch.randn(batch, inp['channels'], inp['height'], inp['width'])
    y = torch.randint(0, plan['numClasses'], (batch,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    if cfg.get('mode') == 'eval':
        # channels-last (NHWC) memory format: ~1.5x faster eval than NCHW here (depthwise convs)
        model.eval()
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

        def step():
            with torch.no_grad():
                return float(model(x)[0, 0])
    else:
        model.train()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

    for _ in range(2):  # warm-up
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 3:
            break
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({'imagesPerSec': n * batch / dt, 'steps': n, 'threads': threads,
                      'torch': torch.__version__, 'params': params}))


if __name__ == '__main__':
    main()
