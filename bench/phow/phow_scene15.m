function phow_scene15()
% PHOW_SCENE15  VLFeat's PHOW recipe (apps/phow_caltech101.m in VLFeat's
% examples: vl_phow 'Step' 3, 600 words from 1e5 descriptors of 30 training
% images with Elkan k-means (50 iterations), kd-tree quantisation with 50
% comparisons, 2x2 and 4x4 spatial histograms, chi2 homogeneous kernel map
% (order 1, gamma 0.5), one-vs-rest SDCA linear SVMs with C = 10) on the
% 15-scene train/test split listed by ../shared/peers/scene15_list.m.
%   SCENE15=/path octave-cli --eval "phow_scene15"
pkg load image
more off
t0 = tic ;
ds = scene15_list() ;
files = [ds.trainFiles ds.testFiles] ;
ntr = numel(ds.trainFiles) ;
randn('state', 1) ; rand('state', 1) ; vl_twister('state', 1) ;
numWords = 600 ; spatial = [2 4] ;
phowOpts = {'Step', 3} ;

sel = vl_colsubset(1:ntr, 30) ;
descrs = cell(1, numel(sel)) ;
for ii = 1:numel(sel)
  [~, descrs{ii}] = vl_phow(standardize(imread(files{sel(ii)})), phowOpts{:}) ;
end
descrs = single(vl_colsubset(cat(2, descrs{:}), 1e5)) ;
vocab = vl_kmeans(descrs, numWords, 'Algorithm', 'elkan', 'MaxNumIterations', 50) ;
kdtree = vl_kdtreebuild(vocab) ;
fprintf('vocabulary: %.1f s\n', toc(t0)) ;

hists = zeros(numWords * sum(spatial .^ 2), numel(files), 'single') ;
for ii = 1:numel(files)
  im = standardize(imread(files{ii})) ;
  [frames, d] = vl_phow(im, phowOpts{:}) ;
  words = double(vl_kdtreequery(kdtree, vocab, single(d), 'MaxComparisons', 50)) ;
  parts = cell(1, numel(spatial)) ;
  for s = 1:numel(spatial)
    bx = vl_binsearch(linspace(1, size(im, 2), spatial(s) + 1), frames(1, :)) ;
    by = vl_binsearch(linspace(1, size(im, 1), spatial(s) + 1), frames(2, :)) ;
    bins = sub2ind([spatial(s), spatial(s), numWords], by, bx, words) ;
    h = zeros(spatial(s) ^ 2 * numWords, 1) ;
    h = vl_binsum(h, ones(size(bins)), bins) ;
    parts{s} = single(h / sum(h)) ;
  end
  h = cat(1, parts{:}) ;
  hists(:, ii) = h / sum(h) ;
  if mod(ii, 500) == 0, fprintf('encoded %d/%d (%.1f s)\n', ii, numel(files), toc(t0)) ; end
end
psix = vl_homkermap(hists, 1, 'kchi2', 'gamma', .5) ;

lambda = 1 / (10 * ntr) ;
w = zeros(size(psix, 1), numel(ds.classes)) ; b = zeros(1, numel(ds.classes)) ;
for ci = 1:numel(ds.classes)
  perm = randperm(ntr) ;
  y = 2 * (ds.trainLabels == ci) - 1 ;
  [w(:, ci), b(ci)] = vl_svmtrain(psix(:, perm), y(perm), lambda, 'Solver', 'sdca', ...
    'MaxNumIterations', 50 / lambda, 'BiasMultiplier', 1, 'Epsilon', 1e-3) ;
end
scores = w' * psix(:, ntr + 1:end) + b' * ones(1, numel(ds.testFiles)) ;
[~, pred] = max(scores, [], 1) ;
fprintf('PHOW + chi2 map + SVM accuracy %.4f, total %.1f s\n', mean(pred == ds.testLabels), toc(t0)) ;
end

function im = standardize(im)
im = im2single(im) ;
if size(im, 3) > 1, im = rgb2gray(im) ; end
if size(im, 1) > 480, im = imresize(im, [480 NaN]) ; end
end
