# Peer for mixed-precision CNN training: resnet18-cifar (1x32x32) or
# resnet-lite (1x28x28) on Fashion-MNIST in PyTorch-Python, fp32 or under
# torch.autocast('cpu', dtype=torch.bfloat16) -- the one line a notebook adds --
# channels-last, batch 128, crop + flip in a DataLoader, SGD with momentum.
# Prints the training images/s of one epoch over N images.
# Usage: OMP_WAIT_POLICY=PASSIVE torch_precision_fmnist.py MODEL PRECISION [n_train=2560] [threads=2]
import contextlib, os, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
import torchvision.transforms as T
from torch.utils.data import DataLoader
sys.path.insert(0, os.environ.get("PEERS", "../shared/peers"))
from fmnist import load

model_name, precision = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 2560
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
torch.manual_seed(1)

class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o)
        s.sc = nn.Sequential() if st == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))
    def forward(s, x): return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.sc(x))

class Net(nn.Module):
    def __init__(s, stem, stages):
        super().__init__()
        s.c1 = nn.Conv2d(1, stem, 3, 1, 1, bias=False); s.b1 = nn.BatchNorm2d(stem)
        layers, i = [], stem
        for o, st, blocks in stages:
            for b in range(blocks):
                layers.append(Block(i, o, st if b == 0 else 1)); i = o
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(i, 10)
    def forward(s, x): return s.fc(F.adaptive_avg_pool2d(s.layers(F.relu(s.b1(s.c1(x)))), 1).flatten(1))

if model_name == "resnet18-cifar":
    model, side, pad = Net(64, [(64, 1, 2), (128, 2, 2), (256, 2, 2), (512, 2, 2)]), 32, 4
else:  # resnet-lite
    model, side, pad = Net(16, [(16, 1, 1), (32, 2, 1), (64, 2, 1)]), 28, 2

class Aug(torch.utils.data.Dataset):
    def __init__(s, x, y): s.x, s.y = x, y; s.t = T.Compose([T.RandomCrop(side, padding=pad), T.RandomHorizontalFlip()])
    def __len__(s): return len(s.x)
    def __getitem__(s, i):
        img = torch.from_numpy(s.x[i].copy()).float().div(255).unsqueeze(0)
        if side == 32: img = F.pad(img, (2, 2, 2, 2))
        return s.t(img), int(s.y[i])

xtr, ytr = load("train")
dl = DataLoader(Aug(xtr[:n], ytr[:n]), batch_size=128, shuffle=True, num_workers=0)
model = model.to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
print(f"params {sum(p.numel() for p in model.parameters())}")
model.train(); t = time.time(); seen = 0
for xb, yb in dl:
    xb = xb.contiguous(memory_format=torch.channels_last)
    opt.zero_grad()
    with cast():
        logits = model(xb)
    F.cross_entropy(logits.float(), yb).backward(); opt.step(); seen += len(xb)
dt = time.time() - t
print(f"{model_name} {precision}: {seen/dt:.1f} img/s train ({dt:.1f}s)")
