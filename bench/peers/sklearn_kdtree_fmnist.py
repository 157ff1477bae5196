# Peer for raw-pixel kNN on Fashion-MNIST: scikit-learn KNeighborsClassifier with
# algorithm="kd_tree" (exact; its tree build is counted, as a notebook pays it).
# Usage: sklearn_kdtree_fmnist.py p k n_test   (run from ../shared/peers or with PEERS set)
import os, resource, sys, time
import numpy as np
sys.path.insert(0, os.environ.get("PEERS", "../shared/peers"))
from sklearn.neighbors import KNeighborsClassifier
from fmnist import load
p, k, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
xtr, ytr = load("train"); xte, yte = load("test")
xtr = xtr.reshape(len(xtr), -1).astype(np.float32) / 255; xte = xte.reshape(len(xte), -1)[:n].astype(np.float32) / 255
t = time.time()
clf = KNeighborsClassifier(n_neighbors=k, p=p, algorithm="kd_tree", n_jobs=2).fit(xtr, ytr)
acc = (clf.predict(xte) == yte[:n]).mean()
print(f"sklearn kd_tree kNN p={p} k={k} n_test={n}: acc {acc:.4f} in {time.time()-t:.1f}s, "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB")
