# Peers for exact kNN on raw Fashion-MNIST pixels: scipy's cdist and
# torch.cdist, each followed by a partial top-10 (what a notebook does).
# Usage: cdist_fmnist.py scipy|torch p n_test   (p = 1 or 2; 2 threads for torch)
import os, resource, sys, time
import numpy as np
sys.path.insert(0, os.environ.get("PEERS", "../shared/peers"))
from fmnist import load

lib, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
xtr, ytr = load("train"); xte, yte = load("test")
xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / 255
xte = xte.reshape(len(xte), -1)[:n].astype(np.float32) / 255
t = time.time()
if lib == "scipy":
    from scipy.spatial.distance import cdist
    d = cdist(xte, xtr, "cityblock" if p == 1 else "sqeuclidean")
    nn = np.argpartition(d, 5, axis=1)[:, :5]
    nn = np.take_along_axis(nn, np.argsort(np.take_along_axis(d, nn, 1), 1), 1)
else:
    import torch
    torch.set_num_threads(2)
    with torch.no_grad():
        d = torch.cdist(torch.from_numpy(xte), torch.from_numpy(xtr), p=float(p))
        nn = torch.topk(d, 5, dim=1, largest=False).indices.numpy()
votes = ytr[nn]
pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
print(f"{lib} cdist p={p} n_test={n}: k=5 acc {(pred == yte[:n]).mean():.4f} in {time.time()-t:.1f}s, "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
