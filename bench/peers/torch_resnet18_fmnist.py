# Peer for CNN training throughput: ResNet-18 in its CIFAR form (3x3 stem, no
# max-pool, stages 64-128-256-512, BasicBlocks 2-2-2-2; 11,173,962 parameters
# with 3 input channels) on Fashion-MNIST padded to 1x32x32, written as a
# notebook would: per-sample torchvision transforms (RandomCrop 32 pad 4 +
# flip) in a DataLoader, SGD with momentum. Prints training images/s.
# Usage: OMP_WAIT_POLICY=PASSIVE torch_resnet18_fmnist.py [n_train=2560] [threads=2]
import os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import torchvision.transforms as T
from torch.utils.data import DataLoader
sys.path.insert(0, os.environ.get("PEERS", "../shared/peers"))
from fmnist import load

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2560
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(1)

class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o)
        s.sc = nn.Sequential() if st == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))
    def forward(s, x): return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.sc(x))

class ResNet18(nn.Module):
    def __init__(s, cin=1, classes=10):
        super().__init__()
        s.c1 = nn.Conv2d(cin, 64, 3, 1, 1, bias=False); s.b1 = nn.BatchNorm2d(64)
        layers, i = [], 64
        for o, st in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(i, o, st), Block(o, o, 1)]; i = o
        s.layers = nn.Sequential(*layers)
        s.fc = nn.Linear(512, classes)
    def forward(s, x): return s.fc(F.adaptive_avg_pool2d(s.layers(F.relu(s.b1(s.c1(x)))), 1).flatten(1))

class Aug(torch.utils.data.Dataset):
    def __init__(s, x, y): s.x, s.y = x, y; s.t = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()])
    def __len__(s): return len(s.x)
    def __getitem__(s, i):
        img = F.pad(torch.from_numpy(s.x[i].copy()).float().div(255).unsqueeze(0), (2, 2, 2, 2))
        return s.t(img), int(s.y[i])

xtr, ytr = load("train")
dl = DataLoader(Aug(xtr[:n], ytr[:n]), batch_size=128, shuffle=True, num_workers=0)
model = ResNet18()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
print(f"params {sum(p.numel() for p in model.parameters())}")
model.train(); t = time.time(); seen = 0
for xb, yb in dl:
    opt.zero_grad(); F.cross_entropy(model(xb), yb).backward(); opt.step(); seen += len(xb)
dt = time.time() - t
print(f"epoch 1: {seen/dt:.0f} img/s train ({dt:.1f}s)")
